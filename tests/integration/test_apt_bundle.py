"""The bundle's Debian repository built from the real archive and read by a real apt, as an air-gapped host reads it.

apt_bundle resolves a small package (`hello`, with libc6 and friends) for Debian 12 from the archive the controller
uses, writes the signed flat repository, and a second run changes nothing. A private apt (its own sources, lists and
an empty status) then reads that repository with the bundle's key alone: the signature is checked, the package and
its dependencies resolve from it alone. A repository whose index was altered, or read with another key, is
refused. Skipped when the controller reaches no Debian archive, or has no apt-get or gpg.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from playbook_runner import run_playbook

KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

pytestmark = pytest.mark.skipif(
    not shutil.which("apt-get") or not shutil.which("gpg") or not KEYRING.is_file(),
    reason="needs apt-get, gpg and the Debian archive keyring on the controller")


@pytest.fixture(name="gpg_homes")
def fixture_gpg_homes():
    """GnuPG homes made by a test; their agents are stopped at its end."""
    homes = []
    yield homes
    for home in homes:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False)


def gpg_key(home: Path, uid: str) -> str:
    home.mkdir(mode=0o700, parents=True)
    subprocess.run(["gpg", "--homedir", str(home), "--batch", "--passphrase", "", "--quick-generate-key", uid,
                    "ed25519", "sign", "never"], check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--homedir", str(home), "--with-colons", "--list-secret-keys"], check=True,
                             capture_output=True, text=True).stdout
    return [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")][0]


def export(home: Path, fingerprint: str, dest: Path) -> Path:
    dest.write_text(subprocess.run(["gpg", "--homedir", str(home), "--armor", "--export", fingerprint], check=True,
                                   capture_output=True, text=True).stdout)
    return dest


def client_apt(root: Path, repo: Path, key: Path):
    """apt-get with a private state whose one source is the flat repository, trusted by key alone."""
    for sub in ("etc/sources.list.d", "etc/preferences.d", "etc/trusted.gpg.d", "lists/partial", "archives/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "status").touch()
    (root / "etc/sources.list.d/mirror.sources").write_text(
        "Types: deb\nURIs: file:%s/\nSuites: ./\nSigned-By: %s\n" % (repo, key))
    options = []
    for name, value in {
        "Dir::Etc::SourceList": "/dev/null", "Dir::Etc::SourceParts": root / "etc/sources.list.d",
        "Dir::Etc::Preferences": "/dev/null", "Dir::Etc::PreferencesParts": root / "etc/preferences.d",
        "Dir::Etc::Trusted": "/dev/null", "Dir::Etc::TrustedParts": root / "etc/trusted.gpg.d",
        "Dir::State::Lists": root / "lists", "Dir::State::status": root / "status", "Dir::Cache": root,
        "Dir::Cache::Archives": root / "archives", "APT::Architecture": "amd64", "Debug::NoLocking": "1",
    }.items():
        options += ["-o", "%s=%s" % (name, value)]

    def run(*args):
        return subprocess.run(["apt-get", "-q", "-y"] + options + list(args), capture_output=True, text=True,
                              env=dict(os.environ, LC_ALL="C"), check=False)
    return run


def build(tmp_path: Path, home: Path, fingerprint: str):
    task = {"llm_infra.cluster.apt_bundle": {
        "packages": ["hello"], "codename": "bookworm", "architecture": "amd64", "components": ["main"],
        "keyring": str(KEYRING), "state_dir": str(tmp_path / "state"), "dest": str(tmp_path / "bundle/debian/bookworm"),
        "gnupg_home": str(home), "signing_key": fingerprint}, "register": "built"}
    return run_playbook(tmp_path, [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [
        task, {"ansible.builtin.debug": {"var": "built"}}]}], check=False, timeout=600)


def test_the_repository_serves_apt_with_the_bundle_key_alone(tmp_path, gpg_homes):
    home = tmp_path / "gnupg"
    gpg_homes.extend([home, tmp_path / "other"])
    fingerprint = gpg_key(home, "bundle <bundle@llm-infra.invalid>")
    first = build(tmp_path, home, fingerprint)
    if "apt-get update" in first.stdout and ("Could not resolve" in first.stdout or "Failed to fetch" in first.stdout
                                             or "Temporary failure" in first.stdout):
        pytest.skip("no Debian archive reachable from the controller: %s" % first.stdout[-300:])
    assert first.returncode == 0, first.stdout + first.stderr
    assert "changed=1" in first.stdout
    repo = tmp_path / "bundle/debian/bookworm"
    pool = sorted(os.listdir(repo / "pool"))
    assert [name for name in pool if name.startswith("hello_")] and [name for name in pool if name.startswith("libc6_")]
    # A second run resolves the same set from the kept state: no change, no new signature.
    inrelease = (repo / "InRelease").read_bytes()
    second = build(tmp_path, home, fingerprint)
    assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout
    assert (repo / "InRelease").read_bytes() == inrelease

    key = export(home, fingerprint, tmp_path / "mirror.asc")
    apt = client_apt(tmp_path / "client", repo, key)
    updated = apt("update")
    assert updated.returncode == 0 and "Err:" not in updated.stdout + updated.stderr, updated.stdout + updated.stderr
    # From an empty status every file of the pool is needed, each from the bundle (apt uses file: packages in place).
    planned = apt("install", "--simulate", "hello")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    installs = [line for line in planned.stdout.splitlines() if line.startswith("Inst ")]
    assert len(installs) == len(pool) and all("llm-infra bundle" in line for line in installs), planned.stdout
    assert sorted(line.split()[1] for line in installs) == sorted(name.split("_")[0] for name in pool)

    # Another key: the signature is not trusted.
    other_home = tmp_path / "other"
    other_key = export(other_home, gpg_key(other_home, "other <other@llm-infra.invalid>"), tmp_path / "other.asc")
    untrusted = client_apt(tmp_path / "client-other", repo, other_key)("update")
    assert "NO_PUBKEY" in untrusted.stdout + untrusted.stderr or "not signed" in untrusted.stdout + untrusted.stderr \
        or untrusted.returncode != 0, untrusted.stdout + untrusted.stderr

    # An index changed after signing: its hash no longer matches the signed Release.
    tampered = tmp_path / "tampered"
    shutil.copytree(repo, tampered)
    packages = gzip.decompress((tampered / "Packages.gz").read_bytes()).replace(b"Package: hello", b"Package: hellx")
    (tampered / "Packages.gz").write_bytes(gzip.compress(packages))
    (tampered / "Packages").write_bytes(packages)
    refused = client_apt(tmp_path / "client-tampered", tampered, key)("update")
    assert "Hash Sum mismatch" in refused.stdout + refused.stderr or "File has unexpected size" in refused.stdout + refused.stderr, \
        refused.stdout + refused.stderr

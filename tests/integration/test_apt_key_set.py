"""The apt signing key of Grafana's repository is installed only when its key file holds exactly the pinned key.

The grafana role's apt_repository entry point (alloy installs through it too) fetches the key file through the
artifact entry point (its sha256 from the inventory), stages it on the host, lists its primary keys with gpg and
installs it as the keyring only when that set is the pinned fingerprint alone. Here the role's own apt_key.yml
runs against throwaway keys made with gpg: the controller
cache is seeded with the file (so nothing is downloaded), the pinned fingerprint is the first throwaway key's, and
the staging folder and keyring are redirected into the test's folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from playbook_runner import run_playbook

# alloy has no key handling of its own any more: it calls the grafana role's apt_repository entry point.
ROLES = ["grafana"]

pytestmark = [
    pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed on this machine"),
    # The staged file and the keyring are owned by root, as on a managed host.
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles' tasks set root as owner; run as root (CI does)"),
]


def gpg(home: Path, *args: str) -> str:
    return subprocess.run(["gpg", "--batch", "--homedir", str(home), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict:
    """Two throwaway signing keys: their fingerprints and armored exports, alone and together."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    fingerprints = []
    for name in ("pinned", "extra"):
        gpg(home, "--passphrase", "", "--quick-gen-key", f"Test {name} <{name}@example.invalid>", "ed25519", "sign", "never")
        listing = gpg(home, "--with-colons", "--list-keys", f"{name}@example.invalid")
        fingerprints.append(next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")))
    pinned, extra = fingerprints
    return {
        "pinned": pinned,
        "files": {
            "pinned_only": gpg(home, "--armor", "--export", pinned),
            "pinned_and_extra": gpg(home, "--armor", "--export", pinned, extra),
            "extra_only": gpg(home, "--armor", "--export", extra),
            "not_a_key": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5Cg==\n-----END PGP PUBLIC KEY BLOCK-----\n",
        },
    }


def install_key(tmp_path: Path, role: str, pinned: str, content: str):
    cache = tmp_path / "cache"
    seeded = cache / "grafana-apt-key" / pinned / "any" / "gpg.key"
    seeded.parent.mkdir(parents=True)
    seeded.write_text(content)
    keyring = tmp_path / "keyring" / "grafana.asc"
    keyring.parent.mkdir()
    extra_vars = {
        "llm_infra_artifact_cache_dir": str(cache),
        f"{role}_apt_key_sha256": hashlib.sha256(content.encode()).hexdigest(),
        f"__{role}_apt_key_fingerprint": pinned,
        f"__{role}_host_cache_dir": str(tmp_path / "host"),
        f"__{role}_keyring": str(keyring),
    }
    play = [
        {
            "name": f"Install the apt key of the {role} role",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"llm_infra_private_address": "127.0.0.1"},
            "tasks": [
                {"name": "Run apt_key.yml", "ansible.builtin.include_role": {"name": f"llm_infra.cluster.{role}", "tasks_from": "apt_key"}}
            ],
        }
    ]
    result = run_playbook(tmp_path, play, check=False, extra_vars=extra_vars)
    return result, keyring


@pytest.mark.parametrize("role", ROLES)
def test_the_pinned_key_alone_is_installed(tmp_path: Path, keys, role):
    content = keys["files"]["pinned_only"]
    result, keyring = install_key(tmp_path, role, keys["pinned"], content)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert keyring.read_text() == content


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", ["pinned_and_extra", "extra_only", "not_a_key"])
def test_any_other_key_set_is_refused_before_the_keyring(tmp_path: Path, keys, role, case):
    """An extra key beside the pinned one, another key, or no key at all: refused, and the keyring is untouched."""
    result, keyring = install_key(tmp_path, role, keys["pinned"], keys["files"][case])
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"not exactly the pinned signing key {keys['pinned']}; nothing was installed" in output, output[-3000:]
    assert "Require exactly the pinned signing key in the key file" in output
    assert not keyring.exists()
    if case == "pinned_and_extra":
        # The message lists what the file holds, so an operator sees the extra key.
        assert keys["pinned"] in output.split("holds the primary keys")[1]

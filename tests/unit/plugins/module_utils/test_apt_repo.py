"""Unit tests of the bundle's Debian repository writer: sources, stanzas by sha256, flat indexes, signing, no-op runs."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess

import pytest

from ansible_collections.llm_infra.cluster.plugins.module_utils import _apt_repo


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_stanzas_keep_fields_order_and_continuations():
    text = "Package: a\nVersion: 1\nDescription: short\n long line\n .\n\nPackage: b\nVersion: 2\n"
    stanzas = _apt_repo.parse_stanzas(text)
    assert [_apt_repo.field(stanza, "package") for stanza in stanzas] == ["a", "b"]
    assert _apt_repo.render_stanza(stanzas[0]) == "Package: a\nVersion: 1\nDescription: short\n long line\n .\n"


def test_package_names_apt_would_not_take():
    assert _apt_repo.bad_packages(["haproxy", "libssl3t64", "nvidia-smi=535.261.03-*", "g++", "python3.11"]) == []
    assert _apt_repo.bad_packages(["Haproxy", "a b", "x;rm", "", "pkg=1 2"]) == ["Haproxy", "a b", "x;rm", "", "pkg=1 2"]


def test_controller_sources_are_its_own_release_renamed(tmp_path):
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    (parts / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://archive.internal/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://archive.internal/debian-security/\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb-src\nURIs: http://src.internal/debian\nSuites: bookworm\nComponents: main\n")
    (parts / "vendor.sources").write_text("Types: deb\nURIs: https://vendor.internal/apt\nSuites: nodistro\nComponents: main\n")
    (parts / "off.sources").write_text("Enabled: no\nTypes: deb\nURIs: http://off.internal/debian\nSuites: bookworm\nComponents: main\n")
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://archive.internal/debian bookworm-backports main\n# deb http://x.internal bookworm main\n")
    sources = _apt_repo.controller_sources("trixie", ["main", "contrib"], etc=str(tmp_path), controller_codename="bookworm")
    assert sources == [
        {"uri": "http://archive.internal/debian", "suites": ["trixie", "trixie-updates", "trixie-backports"],
         "components": ["main", "contrib"]},
        {"uri": "http://archive.internal/debian-security", "suites": ["trixie-security"], "components": ["main", "contrib"]},
    ]
    with pytest.raises(_apt_repo.AptRepoError, match="name no suite of its release jammy"):
        _apt_repo.controller_sources("trixie", ["main"], etc=str(tmp_path), controller_codename="jammy")


def _deb(tmp_path, name, payload):
    path = tmp_path / "archives" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(payload)
    return str(path)


def _index(*debs):
    by_digest = {}
    for path in debs:
        name = os.path.basename(path)[:-4].split("_")
        with open(path, "rb") as handle:
            digest = sha(handle.read())
        by_digest[digest] = [("Package", name[0]), ("Version", name[1].replace("%3a", ":")), ("Architecture", name[2]),
                             ("Filename", "pool/main/x/%s/%s" % (name[0], os.path.basename(path))),
                             ("Size", str(os.path.getsize(path))), ("SHA256", digest)]
    return by_digest


class Signer:
    def __init__(self):
        self.calls = 0

    def __call__(self, release, dest):
        self.calls += 1
        for name in ("InRelease", "Release.gpg"):
            with open(os.path.join(dest, name), "w", encoding="utf-8") as handle:
                handle.write("signed %d\n" % self.calls)


def test_repository_is_the_archive_stanzas_of_exactly_the_files(tmp_path):
    a = _deb(tmp_path, "a_1.0-1_amd64.deb", b"package a")
    b = _deb(tmp_path, "b_1%3a2.0_all.deb", b"package b")
    entries = _apt_repo.repository_stanzas([a, b], _index(a, b))
    dest = tmp_path / "repo"
    sign = Signer()
    result = _apt_repo.write_repository(str(dest), entries, "bookworm", "amd64", "test origin", sign)
    assert result["changed"] and result["packages"] == 2 and result["bytes"] == len(b"package a") + len(b"package b")
    packages = (dest / "Packages").read_bytes()
    assert b"Filename: pool/a_1.0-1_amd64.deb" in packages and b"Version: 1:2.0" in packages
    assert gzip.decompress((dest / "Packages.gz").read_bytes()) == packages
    release = (dest / "Release").read_text()
    assert " %s %d Packages\n" % (sha(packages), len(packages)) in release
    assert "Codename: bookworm" in release and "Architectures: amd64" in release
    assert sorted(os.listdir(dest / "pool")) == ["a_1.0-1_amd64.deb", "b_1%3a2.0_all.deb"]
    assert sign.calls == 1

    # The same set again: nothing written, nothing signed.
    again = _apt_repo.write_repository(str(dest), entries, "bookworm", "amd64", "test origin", sign)
    assert not again["changed"] and sign.calls == 1

    # One package fewer: new indexes, signed again, the old file removed from the pool; check mode first changes nothing.
    fewer = _apt_repo.repository_stanzas([a], _index(a))
    checked = _apt_repo.write_repository(str(dest), fewer, "bookworm", "amd64", "test origin", sign, check_mode=True)
    assert checked["changed"] and checked["removed"] == ["b_1%3a2.0_all.deb"] and (dest / "pool" / "b_1%3a2.0_all.deb").exists()
    done = _apt_repo.write_repository(str(dest), fewer, "bookworm", "amd64", "test origin", sign)
    assert done["changed"] and sign.calls == 2 and os.listdir(dest / "pool") == ["a_1.0-1_amd64.deb"]
    assert b"Package: b" not in (dest / "Packages").read_bytes()


def test_a_file_no_index_vouches_for_is_refused(tmp_path):
    a = _deb(tmp_path, "a_1.0-1_amd64.deb", b"package a")
    index = _index(a)
    with open(a, "wb") as handle:
        handle.write(b"tampered after the download")
    with pytest.raises(_apt_repo.AptRepoError, match="a_1.0-1_amd64.deb is in no index of the archive with its sha256"):
        _apt_repo.repository_stanzas([a], index)


def test_another_signing_key_signs_again(tmp_path):
    a = _deb(tmp_path, "a_1.0-1_amd64.deb", b"package a")
    entries = _apt_repo.repository_stanzas([a], _index(a))
    sign = Signer()
    dest = str(tmp_path / "repo")
    assert _apt_repo.write_repository(dest, entries, "bookworm", "amd64", "o", sign, signer_id="AAAA")["changed"]
    assert not _apt_repo.write_repository(dest, entries, "bookworm", "amd64", "o", sign, signer_id="AAAA")["changed"]
    # A new key (a new credentials store): the same packages, signed again by it.
    assert _apt_repo.write_repository(dest, entries, "bookworm", "amd64", "o", sign, signer_id="BBBB")["changed"]
    assert sign.calls == 2 and (tmp_path / "repo" / ".signed-by").read_text() == "BBBB\n"


def test_a_missing_signature_is_written_again(tmp_path):
    a = _deb(tmp_path, "a_1.0-1_amd64.deb", b"package a")
    entries = _apt_repo.repository_stanzas([a], _index(a))
    sign = Signer()
    _apt_repo.write_repository(str(tmp_path / "repo"), entries, "trixie", "arm64", "o", sign)
    os.unlink(tmp_path / "repo" / "InRelease")
    assert _apt_repo.write_repository(str(tmp_path / "repo"), entries, "trixie", "arm64", "o", sign)["changed"]
    assert sign.calls == 2 and (tmp_path / "repo" / "InRelease").exists()


@pytest.mark.skipif(not shutil.which("gpg") or not shutil.which("gpgv"), reason="needs gpg and gpgv on the controller")
def test_gpg_signer_signs_what_gpgv_accepts(tmp_path):
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    subprocess.run(["gpg", "--homedir", str(home), "--batch", "--passphrase", "", "--quick-generate-key",
                    "test <test@llm-infra.invalid>", "ed25519", "sign", "never"], check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--homedir", str(home), "--with-colons", "--list-secret-keys"], check=True,
                             capture_output=True, text=True).stdout
    fingerprint = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")][0]
    keyring = tmp_path / "key.gpg"
    keyring.write_bytes(subprocess.run(["gpg", "--homedir", str(home), "--export", fingerprint], check=True,
                                       capture_output=True).stdout)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Release").write_text("Origin: test\n")
    _apt_repo.gpg_signer(str(home), fingerprint)(str(repo / "Release"), str(repo))
    assert subprocess.run(["gpgv", "--keyring", str(keyring), str(repo / "InRelease")], capture_output=True,
                          check=False).returncode == 0
    assert subprocess.run(["gpgv", "--keyring", str(keyring), str(repo / "Release.gpg"), str(repo / "Release")],
                          capture_output=True, check=False).returncode == 0
    (repo / "Release").write_text("Origin: changed\n")
    assert subprocess.run(["gpgv", "--keyring", str(keyring), str(repo / "Release.gpg"), str(repo / "Release")],
                          capture_output=True, check=False).returncode != 0
    with pytest.raises(_apt_repo.AptRepoError, match="signing InRelease with key 00FF failed"):
        _apt_repo.gpg_signer(str(home), "00FF")(str(repo / "Release"), str(repo))
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False)


def test_apt_failures_are_errors_even_with_exit_zero(tmp_path):
    class Done:
        def __init__(self, code, out):
            self.returncode, self.stdout, self.stderr = code, out, ""

    state = _apt_repo.AptState(str(tmp_path), "amd64", run=lambda *a, **k: Done(0, "Err:1 http://x bookworm InRelease\n"))
    with pytest.raises(_apt_repo.AptRepoError, match="reported errors: Err:1"):
        state.update()
    state = _apt_repo.AptState(str(tmp_path), "amd64", run=lambda *a, **k: Done(100, "E: Unable to locate package nope\n"))
    with pytest.raises(_apt_repo.AptRepoError, match="exit 100.*Unable to locate package nope"):
        state.download(["nope"])
    # The private state names its own folders and never the controller's.
    options = " ".join(state.options())
    assert "Dir::State::status=%s/status" % tmp_path in options and "Dir::Etc::SourceList=/dev/null" in options

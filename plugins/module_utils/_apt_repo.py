# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Debian packages for an air-gapped site: resolve a package set with its dependencies, write a flat repository.

apt itself does the resolving and the download, in a private state folder: its own sources, lists, cache and an
empty dpkg status (so the whole dependency closure is fetched, not only what the controller lacks), with the
archive's signatures checked against the keyring the sources name. The repository's Packages index is made of the
archive's own stanzas for exactly the files downloaded, matched by their sha256, so every file of the repository
is one the signed archive index vouched for.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import time

from ansible_collections.llm_infra.cluster.plugins.module_utils._digest import sha256_file

PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?(\*)?$")
CODENAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
APT_HELPER = "/usr/lib/apt/apt-helper"


class AptRepoError(Exception):
    """A problem with the package set, the archive or the repository; the message says which."""


def parse_stanzas(text: str):
    """deb822 paragraphs as lists of (field, value) pairs, in file order; continuation lines stay in the value."""
    stanzas, fields = [], []
    for line in text.splitlines():
        if not line.strip():
            if fields:
                stanzas.append(fields)
                fields = []
            continue
        if line[0] in " \t" and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + "\n" + line)
            continue
        name, _sep, value = line.partition(":")
        fields.append((name, value.strip()))
    if fields:
        stanzas.append(fields)
    return stanzas


def field(stanza, name: str, default: str = "") -> str:
    for key, value in stanza:
        if key.lower() == name.lower():
            return value
    return default


def render_stanza(stanza) -> str:
    return "".join("%s: %s\n" % (key, value) if value else "%s:\n" % key for key, value in stanza)


def bad_packages(packages) -> list:
    return [str(name) for name in packages if not PACKAGE_RE.match(str(name))]


def sources_text(sources, keyring: str) -> str:
    """deb822 sources for the private apt state: [{uri, suites, components}] all signed by keyring."""
    blocks = []
    for source in sources:
        blocks.append("Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: %s\n" % (
            source["uri"], " ".join(source["suites"]), " ".join(source["components"]), keyring))
    return "\n".join(blocks)


def os_codename(path: str = "/etc/os-release") -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                key, _sep, value = line.strip().partition("=")
                if key == "VERSION_CODENAME":
                    return value.strip('"')
    except OSError:
        pass
    return ""


def controller_sources(codename: str, components, etc: str = "/etc/apt", controller_codename: str = "") -> list:
    """The Debian archive the controller itself uses, for codename: its suites of its own release, renamed.

    Entries of the controller's sources whose suites are its own release (bookworm, bookworm-updates,
    bookworm-security) give their URI; other entries (third-party repositories) are left out.
    """
    own = controller_codename or os_codename()
    if not own:
        raise AptRepoError("the controller's release has no VERSION_CODENAME: set the archive in sources")
    entries = []
    parts = os.path.join(etc, "sources.list.d")
    for name in sorted(os.listdir(parts)) if os.path.isdir(parts) else []:
        if not name.endswith(".sources"):
            continue
        with open(os.path.join(parts, name), encoding="utf-8") as handle:
            text = "\n".join(line for line in handle.read().splitlines() if not line.lstrip().startswith("#"))
        for stanza in parse_stanzas(text):
            if "deb" not in field(stanza, "Types").split() or field(stanza, "Enabled", "yes").lower() == "no":
                continue
            for uri in field(stanza, "URIs").split():
                entries.append((uri, field(stanza, "Suites").split()))
    listing = os.path.join(etc, "sources.list")
    if os.path.isfile(listing):
        with open(listing, encoding="utf-8") as handle:
            for line in handle:
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    entries.append((words[1], [words[2]]))
    sources = {}
    for uri, suites in entries:
        renamed = [codename + suite[len(own):] for suite in suites if suite == own or suite.startswith(own + "-")]
        if renamed:
            sources.setdefault(uri.rstrip("/"), [])
            sources[uri.rstrip("/")].extend(suite for suite in renamed if suite not in sources[uri.rstrip("/")])
    if not sources:
        raise AptRepoError("the controller's apt sources name no suite of its release %s: set the archive in sources" % own)
    return [{"uri": uri, "suites": suites, "components": list(components)} for uri, suites in sorted(sources.items())]


class AptState:
    """A private apt configuration under root: apt-get runs with it and never reads or changes the controller's."""

    def __init__(self, root: str, architecture: str, run=subprocess.run):
        self.root = root
        self.architecture = architecture
        self._run = run
        for sub in ("etc/sources.list.d", "etc/preferences.d", "etc/trusted.gpg.d", "lists/partial",
                    "archives/partial"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        self.status = os.path.join(root, "status")
        if not os.path.exists(self.status):
            open(self.status, "w", encoding="utf-8").close()

    def options(self) -> list:
        root = self.root
        settings = {
            "Dir::Etc::SourceList": "/dev/null",
            "Dir::Etc::SourceParts": os.path.join(root, "etc/sources.list.d"),
            "Dir::Etc::Preferences": "/dev/null",
            "Dir::Etc::PreferencesParts": os.path.join(root, "etc/preferences.d"),
            "Dir::Etc::Trusted": "/dev/null",
            "Dir::Etc::TrustedParts": os.path.join(root, "etc/trusted.gpg.d"),
            "Dir::State::Lists": os.path.join(root, "lists"),
            "Dir::State::status": self.status,
            "Dir::Cache": root,
            "Dir::Cache::Archives": os.path.join(root, "archives"),
            "Dir::Cache::pkgcache": "",
            "Dir::Cache::srcpkgcache": "",
            "APT::Architecture": self.architecture,
            "APT::Architectures::": self.architecture,
            "APT::Install-Recommends": "false",
            "APT::Install-Suggests": "false",
            "Debug::NoLocking": "1",
            "Acquire::Languages": "none",
        }
        return [arg for key, value in settings.items() for arg in ("-o", "%s=%s" % (key, value))]

    def write_sources(self, text: str) -> None:
        with open(os.path.join(self.root, "etc/sources.list.d/bundle.sources"), "w", encoding="utf-8") as handle:
            handle.write(text)

    def write_preferences(self, text: str) -> None:
        """apt preferences (pins) the resolving honours, as the target hosts will: the roles' own pins."""
        path = os.path.join(self.root, "etc/preferences.d/bundle.pref")
        if text.strip():
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text.rstrip("\n") + "\n")
        elif os.path.exists(path):
            os.unlink(path)

    def apt_get(self, *args) -> str:
        command = ["apt-get", "-q", "-y"] + self.options() + list(args)
        done = self._run(command, capture_output=True, text=True, env=dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive"),
                         check=False)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise AptRepoError("apt-get %s failed (exit %d): %s" % (" ".join(args[:1]), done.returncode, tail))
        # apt-get update exits 0 when an index failed to download; its "E:" and "Err:" lines say so.
        failed = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith(("E:", "Err:"))]
        if failed:
            raise AptRepoError("apt-get %s reported errors: %s" % (" ".join(args[:1]), "; ".join(failed[-5:])))
        return done.stdout

    def update(self) -> None:
        self.apt_get("update")

    def download(self, packages) -> list:
        """Download the packages and their whole dependency closure; return the .deb files used."""
        self.apt_get("install", "--download-only", "--no-install-recommends", *packages)
        archives = os.path.join(self.root, "archives")
        # The files apt would unpack for this set: "Inst name (version ...)" lines of a simulation name them all,
        # also those already in the cache from an earlier run.
        simulated = self.apt_get("install", "--simulate", "--no-install-recommends", *packages)
        wanted = []
        for line in simulated.splitlines():
            match = re.match(r"^Inst (\S+) \((\S+) ", line)
            if match:
                wanted.append((match.group(1), match.group(2)))
        files = {}
        for name in os.listdir(archives):
            if not name.endswith(".deb"):
                continue
            parts = name[:-4].split("_")
            if len(parts) == 3:
                files[(parts[0], parts[1].replace("%3a", ":"))] = os.path.join(archives, name)
        missing = ["%s=%s" % item for item in wanted if item not in files]
        if missing:
            raise AptRepoError("apt resolved but did not download: %s" % ", ".join(missing))
        return sorted(files[item] for item in wanted)

    def index_stanzas(self) -> dict:
        """Every stanza of the downloaded Packages indexes, by SHA256."""
        by_digest = {}
        lists = os.path.join(self.root, "lists")
        for name in sorted(os.listdir(lists)):
            if "_Packages" not in name or not os.path.isfile(os.path.join(lists, name)):
                continue
            # apt keeps indexes compressed when its configuration says so (gz, lz4, ...): its helper reads any of them.
            done = self._run([APT_HELPER, "cat-file", os.path.join(lists, name)], capture_output=True, text=True,
                             errors="replace", check=False)
            if done.returncode != 0:
                raise AptRepoError("reading the index %s failed: %s" % (name, done.stderr.strip()[-300:]))
            for stanza in parse_stanzas(done.stdout):
                digest = field(stanza, "SHA256")
                if digest:
                    by_digest[digest] = stanza
        return by_digest


def repository_stanzas(debs, by_digest: dict):
    """(file, sha256, stanza with Filename pointing into pool/) per .deb, from the archive's own stanzas."""
    entries = []
    for path in debs:
        digest = sha256_file(path)
        stanza = by_digest.get(digest)
        if stanza is None:
            raise AptRepoError("%s is in no index of the archive with its sha256 %s" % (os.path.basename(path), digest))
        name = os.path.basename(path)
        rewritten = [(key, "pool/" + name if key == "Filename" else value) for key, value in stanza]
        entries.append((path, digest, rewritten))
    return entries


def packages_text(entries) -> str:
    ordered = sorted(entries, key=lambda entry: (field(entry[2], "Package"), field(entry[2], "Version")))
    return "\n".join(render_stanza(stanza) for _path, _digest, stanza in ordered)


def release_text(files: dict, codename: str, architecture: str, origin: str, date: float) -> str:
    """Release of a flat repository: what it is and the sha256 and size of its indexes."""
    lines = [
        "Origin: %s" % origin,
        "Label: %s" % origin,
        "Codename: %s" % codename,
        "Architectures: %s" % architecture,
        "Date: %s" % time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime(date)),
        "SHA256:",
    ]
    for name in sorted(files):
        data = files[name]
        lines.append(" %s %d %s" % (hashlib.sha256(data).hexdigest(), len(data), name))
    return "\n".join(lines) + "\n"


def _write_if_changed(path: str, data: bytes) -> bool:
    if os.path.isfile(path) and _read_bytes(path) == data:
        return False
    tmp = path + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
    return True


SIGNED_BY = ".signed-by"


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _read_text(path: str) -> str:
    if not os.path.isfile(path):
        return ""
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def write_repository(dest: str, entries, codename: str, architecture: str, origin: str, sign, check_mode=False,
                     signer_id: str = "") -> dict:
    """Make dest a flat repository of exactly entries; sign(release_path, dest) writes InRelease and Release.gpg.

    Nothing changes when the Packages index is already the one wanted and its signatures are there, made by
    signer_id (kept in a hidden file beside them: another signing key signs again). The pool gets new files first,
    the indexes are replaced next and signed, and files no longer listed go last, so a reader sees an old or a new
    consistent repository, never a half-written one.
    """
    packages = packages_text(entries).encode()
    pool = os.path.join(dest, "pool")
    current = os.path.join(dest, "Packages")
    signed = all(os.path.isfile(os.path.join(dest, name)) for name in ("InRelease", "Release.gpg", "Release")) \
        and _read_text(os.path.join(dest, SIGNED_BY)) == signer_id
    same = signed and os.path.isfile(current) and _read_bytes(current) == packages
    names = {os.path.basename(path) for path, _digest, _stanza in entries}
    stale = sorted(set(os.listdir(pool)) - names) if os.path.isdir(pool) else []
    summary = {"packages": len(entries), "bytes": sum(os.path.getsize(path) for path, _d, _s in entries),
               "removed": stale}
    if same and not stale:
        return dict(summary, changed=False)
    if check_mode:
        return dict(summary, changed=True)
    os.makedirs(pool, exist_ok=True)
    for path, digest, _stanza in entries:
        target = os.path.join(pool, os.path.basename(path))
        if os.path.isfile(target) and sha256_file(target) == digest:
            continue
        tmp = target + ".part"
        try:
            os.link(path, tmp)
        except OSError:
            shutil.copyfile(path, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    if not same:
        gz = gzip.compress(packages, mtime=0)
        _write_if_changed(os.path.join(dest, "Packages"), packages)
        _write_if_changed(os.path.join(dest, "Packages.gz"), gz)
        release = release_text({"Packages": packages, "Packages.gz": gz}, codename, architecture, origin, time.time())
        _write_if_changed(os.path.join(dest, "Release"), release.encode())
        sign(os.path.join(dest, "Release"), dest)
        _write_if_changed(os.path.join(dest, SIGNED_BY), (signer_id + "\n").encode())
    for name in stale:
        os.unlink(os.path.join(pool, name))
    return dict(summary, changed=True)


def gpg_signer(gnupg_home: str, key: str, run=subprocess.run):
    """A sign() for write_repository: InRelease (clear-signed) and Release.gpg (detached) with gpg."""
    def sign(release: str, dest: str) -> None:
        base = ["gpg", "--homedir", gnupg_home, "--batch", "--yes", "--pinentry-mode", "loopback", "--local-user", key]
        for extra, target in ((["--clearsign"], "InRelease"), (["--armor", "--detach-sign"], "Release.gpg")):
            tmp = os.path.join(dest, target + ".tmp")
            done = run(base + extra + ["--output", tmp, release], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise AptRepoError("signing %s with key %s failed: %s" % (target, key, done.stderr.strip()[-500:]))
            os.replace(tmp, os.path.join(dest, target))
    return sign

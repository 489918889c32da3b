# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Controller side of the artifact entry point: resolve a role's artifact table, fetch into the cache, unpack.

A table (one per component, in a role's vars/main.yml) reads::

    version: 2.7.2
    base: https://example.org/downloads      # upstream base; a mirror URL replaces it
    url: "{base}/v{version}/tool_{arch}.tar.gz"
    arch_names: {amd64: x86_64}              # optional: the upstream's name for {arch}
    member: "tool_{version}/tool"            # optional: the one file to take out of the archive
    architectures:                           # one entry per architecture, or `any`
      amd64: {sha256: <64 hex>}              # more keys are placeholders of url and member
      arm64: {sha256: <64 hex>}

Nothing here takes a digest from the artifact's origin: the digest comes from the table or from the caller.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import zipfile

from ansible.module_utils.urls import open_url
from ansible_collections.llm_infra.cluster.plugins.module_utils._digest import sha256_file

# Ansible's ansible_facts['architecture'] (uname -m) to the names the artifact tables use.
ARCH_NAMES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "armv7",
    "armv7": "armv7",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
ANY_ARCH = "any"
# The folder of a mirror that holds the artifact tables' files, laid out as the controller cache.
MIRROR_CHANNEL = "artifacts"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


class ArtifactError(Exception):
    """A problem with an artifact, its table or its download; the message names the artifact."""


def normalize_arch(machine: str) -> str:
    """The table name of an architecture given as Ansible reports it (x86_64 -> amd64)."""
    machine = str(machine or "").strip().lower()
    return ARCH_NAMES.get(machine, machine)


def mirror_path(mirror_url: str, name: str, version: str, arch_key: str, file_name: str) -> str:
    """Where a mirror (docs/air-gap.md) holds an artifact: the controller cache's own layout under artifacts/."""
    return "/".join([str(mirror_url).strip().rstrip("/"), MIRROR_CHANNEL] + [
        urllib.parse.quote(part, safe="") for part in (name, version, arch_key, file_name)])


def _format(template: str, fields: dict, what: str, label: str) -> str:
    try:
        return str(template).format_map(fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise ArtifactError(
            "artifact %s: the %s template %r needs %s, which the table does not give (it gives %s)"
            % (label, what, template, exc, ", ".join(sorted(fields)))) from exc


def resolve(table: dict, name: str, architecture: str, cache_dir: str, mirror_url: str = "",
            sha256=None, sha256_variable: str = "", member: str | None = None) -> dict:
    """Everything a download needs: URL, expected digest, file name, cache path and member to unpack.

    sha256 overrides the table's digest: a string, or a mapping by architecture (the table's names).
    Raises ArtifactError when the table has no entry for the architecture or no valid digest is known.
    """
    if not isinstance(table, dict) or not table.get("url") or table.get("version") in (None, ""):
        raise ArtifactError("artifact %s: its table needs at least version and url (got %r)" % (name, table))
    version = str(table["version"])
    label = "%s %s" % (name, version)
    arch = normalize_arch(architecture)
    builds = table.get("architectures") or {}
    arch_key = arch if arch in builds else ANY_ARCH
    if arch_key not in builds:
        raise ArtifactError("artifact %s has no build for architecture %s (the table has %s)"
                            % (label, arch, ", ".join(sorted(builds)) or "none"))
    entry = dict(builds[arch_key] or {})

    fields = {key: str(value) for key, value in entry.items() if key != "sha256"}
    fields.update(
        base=str(table.get("base") or "").strip().rstrip("/"),
        version=version,
        arch=str((table.get("arch_names") or {}).get(arch, arch)),
        name=name,
    )
    upstream_url = _format(table["url"], fields, "url", label)
    file_name = os.path.basename(urllib.parse.urlparse(upstream_url).path)
    if not file_name:
        raise ArtifactError("artifact %s: the URL %s names no file" % (label, upstream_url))
    url = mirror_path(mirror_url, name, version, arch_key, file_name) if mirror_url and str(mirror_url).strip() else upstream_url

    override = sha256.get(arch, sha256.get(arch_key, "")) if isinstance(sha256, dict) else sha256
    digest = str(override or entry.get("sha256") or "").strip().lower()
    if not SHA256_RE.match(digest):
        where = ("set %s (64 hex digits%s)" % (sha256_variable, ", keyed by architecture" if isinstance(sha256, dict) else "")
                 if sha256_variable else "pin its sha256 in the role's artifact table")
        if table.get("checksums_url"):
            where += " (the upstream lists its digests in %s: check that list yourself, then copy the line of %s)" % (
                _format(table["checksums_url"], fields, "checksums_url", label), os.path.basename(url))
        raise ArtifactError(
            "artifact %s for %s has no valid sha256 (got %r): %s, from a digest you checked yourself for %s; "
            "nothing is ever verified against a digest from the download's own origin"
            % (label, arch, digest, where, url))

    member_template = member if member else entry.get("member", table.get("member", ""))
    member_path = _format(member_template, fields, "member", label) if member_template else ""
    if member_path and (member_path.startswith("/") or ".." in member_path.split("/")):
        raise ArtifactError("artifact %s: the member %r must be a relative path inside the archive" % (label, member_path))

    directory = os.path.join(os.path.expanduser(cache_dir), name, version, arch_key)
    return {
        "name": name,
        "version": version,
        "arch": arch,
        "url": url,
        "upstream_url": upstream_url,
        "sha256": digest,
        "file": file_name,
        "cache_path": os.path.join(directory, file_name),
        "member": member_path,
        "member_path": os.path.join(directory, file_name + ".members", member_path) if member_path else "",
    }


@contextlib.contextmanager
def _locked(path: str):
    """An exclusive lock beside a cache file, so that the forks of a run download it once."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download(url: str, target: str, timeout: float, ca_path: str = "") -> str:
    """Write url to target, returning the sha256 of what arrived."""
    digest = hashlib.sha256()
    with open_url(url, timeout=timeout, http_agent="llm-infra-artifact", ca_path=ca_path or None) as response, \
            open(target, "wb") as out:
        for chunk in iter(lambda: response.read(CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def cached(resolved: dict) -> bool:
    """Whether the cache holds the artifact with the expected digest."""
    path = resolved["cache_path"]
    return os.path.isfile(path) and sha256_file(path) == resolved["sha256"]


def fetch(resolved: dict, retries: int = 3, delay: float = 5, timeout: float = 60, ca_path: str = "") -> bool:
    """Put the verified artifact at resolved['cache_path']; return whether it was downloaded.

    A cached file with the expected digest is used as it is; one with another digest is replaced. The download
    goes to a temporary file beside the target and replaces it only once its digest matches, so the cache never
    holds a partial or unverified file. A digest mismatch is final; network errors are retried.
    """
    path = resolved["cache_path"]
    label = "%s %s" % (resolved["name"], resolved["version"])
    with _locked(path):
        if os.path.isfile(path):
            if sha256_file(path) == resolved["sha256"]:
                return False
            os.unlink(path)
        last_error = None
        for attempt in range(max(0, int(retries)) + 1):
            if attempt:
                time.sleep(delay)
            handle, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix="." + resolved["file"] + ".", suffix=".part")
            os.close(handle)
            try:
                got = _download(resolved["url"], tmp, timeout, ca_path)
                if got != resolved["sha256"]:
                    raise ArtifactError("artifact %s: %s has sha256 %s, expected %s; nothing was kept in the cache"
                                        % (label, resolved["url"], got, resolved["sha256"]))
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
                return True
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last_error = exc
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        raise ArtifactError("artifact %s: downloading %s failed after %d attempts: %s"
                            % (label, resolved["url"], max(0, int(retries)) + 1, last_error))


def _open_member(archive: str, member: str):
    """A readable stream of one member of a zip/wheel or tar archive, or None when it is not there."""
    if zipfile.is_zipfile(archive):
        bundle = zipfile.ZipFile(archive)  # pylint: disable=consider-using-with
        try:
            return bundle, bundle.open(member)
        except KeyError:
            bundle.close()
            return None, None
    bundle = tarfile.open(archive)  # pylint: disable=consider-using-with
    try:
        info = bundle.getmember(member)
    except KeyError:
        bundle.close()
        return None, None
    stream = bundle.extractfile(info) if info.isfile() else None
    if stream is None:
        bundle.close()
    return bundle, stream


def extract(resolved: dict) -> bool:
    """Take resolved['member'] out of the verified cached archive into resolved['member_path'].

    A stamp beside the member records the digest of the archive it came from, so it is unpacked again only when
    the archive changed. Returns whether it was unpacked.
    """
    target = resolved["member_path"]
    stamp = target + ".sha256"
    label = "%s %s" % (resolved["name"], resolved["version"])
    with _locked(target):
        if os.path.isfile(target) and os.path.isfile(stamp):
            with open(stamp, encoding="utf-8") as handle:
                if handle.read().strip() == resolved["sha256"]:
                    return False
        bundle, stream = _open_member(resolved["cache_path"], resolved["member"])
        if stream is None:
            raise ArtifactError("artifact %s: %s has no file %s" % (label, resolved["cache_path"], resolved["member"]))
        handle, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix="." + os.path.basename(target) + ".")
        try:
            with bundle, stream, os.fdopen(handle, "wb") as out:
                shutil.copyfileobj(stream, out, CHUNK)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        with open(stamp, "w", encoding="utf-8") as handle_out:
            handle_out.write(resolved["sha256"] + "\n")
        return True

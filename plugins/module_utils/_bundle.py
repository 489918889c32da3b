# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The bundle of an air-gapped site (docs/air-gap.md): its manifest and its Python package index.

The manifest lists every file of the bundle with its sha256, size, channel (the first folder: debian, artifacts,
python, models, keys) and the roles that use it, so a site can check what it carried in before serving it.
"""

from __future__ import annotations

import html
import json
import os
import re

from ansible_collections.llm_infra.cluster.plugins.module_utils._digest import sha256_file

MANIFEST = "manifest.json"
CHANNELS = ("artifacts", "debian", "keys", "models", "python")
# Left out of a bundle: partial downloads, cache locks, unpacked archive members (the mirror serves archives).
SKIP_SUFFIXES = (".part", ".lock", ".tmp")
SKIP_DIR_SUFFIXES = (".members",)
WHEEL_RE = re.compile(r"^(?P<name>[A-Za-z0-9_.]+?)-(?P<version>[^-]+)-.+\.whl$")
SDIST_RE = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+?)-(?P<version>[0-9][^-]*)\.(tar\.gz|zip)$")


class BundleError(Exception):
    """A problem with the bundle's files; the message names the file."""


def bundle_files(root: str) -> list:
    """Relative paths of the bundle's files, sorted, without the manifest, hidden files or work files."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(name for name in dirs if not name.startswith(".") and not name.endswith(SKIP_DIR_SUFFIXES))
        for name in files:
            if name.startswith(".") or name.endswith(SKIP_SUFFIXES):
                continue
            relative = os.path.relpath(os.path.join(folder, name), root)
            if relative == MANIFEST or relative.endswith(".sha256") and ".members" in relative:
                continue
            found.append(relative)
    return sorted(found)


def used_by(relative: str, uses: list) -> list:
    """The users of a file: every entry of uses whose prefix the path starts with."""
    names = set()
    for entry in uses:
        prefix = str(entry.get("prefix", "")).strip("/")
        if relative == prefix or relative.startswith(prefix + "/"):
            names.update(entry.get("used_by") or [])
    return sorted(names)


def build_manifest(root: str, uses: list, previous: dict | None = None) -> dict:
    """The manifest of root. A file whose size and mtime match the previous manifest keeps its sha256 unhashed."""
    known = {}
    for entry in (previous or {}).get("files", []):
        known[entry.get("path")] = entry
    files = []
    for relative in bundle_files(root):
        path = os.path.join(root, relative)
        stat = os.stat(path)
        old = known.get(relative)
        if old and old.get("size") == stat.st_size and old.get("mtime_ns") == stat.st_mtime_ns:
            digest = old["sha256"]
        else:
            digest = sha256_file(path)
        channel = relative.split("/", 1)[0]
        if channel not in CHANNELS:
            raise BundleError("%s is outside the bundle's channels (%s)" % (relative, ", ".join(CHANNELS)))
        files.append({"path": relative, "sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                      "channel": channel, "used_by": used_by(relative, uses)})
    return {"version": 1, "files": files,
            "totals": {channel: {"files": sum(1 for item in files if item["channel"] == channel),
                                 "bytes": sum(item["size"] for item in files if item["channel"] == channel)}
                       for channel in CHANNELS}}


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()


def verify(root: str, manifest: dict) -> list:
    """Problems of root against its manifest: missing files, other digests, files the manifest does not list."""
    problems = []
    listed = set()
    for entry in manifest.get("files", []):
        listed.add(entry["path"])
        path = os.path.join(root, entry["path"])
        if not os.path.isfile(path):
            problems.append("%s is missing" % entry["path"])
        elif sha256_file(path) != entry["sha256"]:
            problems.append("%s has another sha256 than the manifest's %s" % (entry["path"], entry["sha256"]))
    problems.extend("%s is not in the manifest" % relative for relative in bundle_files(root) if relative not in listed)
    return problems


def normalize_project(name: str) -> str:
    """PEP 503's normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(file_name: str) -> str:
    match = WHEEL_RE.match(file_name) or SDIST_RE.match(file_name)
    if not match:
        raise BundleError("%s is neither a wheel nor a source archive" % file_name)
    return normalize_project(match.group("name"))


def simple_index(files_dir: str, files_url: str = "../../files") -> dict:
    """PEP 503 pages under index_dir for the distributions in files_dir; links carry the sha256 fragment.

    Returns {page path relative to the index folder: content}; the caller writes the ones that changed.
    """
    projects = {}
    for name in sorted(os.listdir(files_dir)) if os.path.isdir(files_dir) else []:
        if name.startswith(".") or name.endswith(SKIP_SUFFIXES):
            continue
        projects.setdefault(project_of(name), []).append(name)
    pages = {}
    root_links = []
    for project in sorted(projects):
        links = []
        for name in projects[project]:
            digest = sha256_file(os.path.join(files_dir, name))
            links.append('<a href="%s/%s#sha256=%s">%s</a><br>' % (
                files_url, html.escape(name, quote=True), digest, html.escape(name)))
        pages[os.path.join(project, "index.html")] = (
            "<!DOCTYPE html>\n<html><head><title>Links for %s</title></head><body>\n%s\n</body></html>\n"
            % (html.escape(project), "\n".join(links)))
        root_links.append('<a href="%s/">%s</a><br>' % (project, html.escape(project)))
    pages["index.html"] = "<!DOCTYPE html>\n<html><head><title>Simple index</title></head><body>\n%s\n</body></html>\n" % (
        "\n".join(root_links))
    return pages

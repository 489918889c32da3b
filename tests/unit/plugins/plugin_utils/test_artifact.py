"""Unit tests of the artifact entry point's controller side: resolution, download into the cache, verify, unpack."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile

import pytest

from ansible_collections.llm_infra.cluster.plugins.plugin_utils import _artifact

PAYLOAD = b"#!/bin/sh\necho artifact\n" * 100


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder and counts the requests per path."""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def do_GET(self):
        self.server.hits[self.path] = self.server.hits.get(self.path, 0) + 1
        super().do_GET()


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(CountingHandler, directory=str(root)))
    httpd.hits = {}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, "http://127.0.0.1:%d" % httpd.server_address[1], httpd.hits
    httpd.shutdown()
    httpd.server_close()


def table(base, digest, **extra):
    return dict({
        "version": "1.2.3",
        "base": base,
        "url": "{base}/v{version}/tool_{version}_{arch}.bin",
        "arch_names": {"amd64": "x86_64"},
        "architectures": {"amd64": {"sha256": digest}, "arm64": {"sha256": ""}},
    }, **extra)


def test_arch_names_map_ansible_facts():
    assert _artifact.normalize_arch("x86_64") == "amd64"
    assert _artifact.normalize_arch("aarch64") == "arm64"
    assert _artifact.normalize_arch("arm64") == "arm64"
    assert _artifact.normalize_arch("ppc64le") == "ppc64le"


def test_resolve_templates_url_and_cache_path(tmp_path):
    resolved = _artifact.resolve(table("https://upstream.example/dl/", sha(PAYLOAD)), "tool", "x86_64", str(tmp_path))
    assert resolved["url"] == "https://upstream.example/dl/v1.2.3/tool_1.2.3_x86_64.bin"
    assert resolved["arch"] == "amd64"
    assert resolved["sha256"] == sha(PAYLOAD)
    assert resolved["cache_path"] == str(tmp_path / "tool" / "1.2.3" / "amd64" / "tool_1.2.3_x86_64.bin")
    assert resolved["member"] == "" and resolved["member_path"] == ""


def test_a_mirror_serves_the_cache_layout(tmp_path):
    resolved = _artifact.resolve(table("https://upstream.example/dl", sha(PAYLOAD)), "tool", "x86_64", str(tmp_path),
                                 mirror_url="https://mirror.internal/llm-infra/")
    # <mirror>/artifacts/<name>/<version>/<table arch>/<upstream file name>: the same path below the cache folder.
    assert resolved["url"] == "https://mirror.internal/llm-infra/artifacts/tool/1.2.3/amd64/tool_1.2.3_x86_64.bin"
    assert resolved["upstream_url"] == "https://upstream.example/dl/v1.2.3/tool_1.2.3_x86_64.bin"
    assert resolved["url"].endswith(os.path.relpath(resolved["cache_path"], str(tmp_path)))
    pypi = {"version": "2.0", "base": "https://files.example", "url": "{base}/packages/{path}",
            "architectures": {"any": {"path": "ab/cd/pkg-2.0.tar.gz", "sha256": "A" * 64}}}
    assert _artifact.resolve(pypi, "pkg", "riscv64", str(tmp_path), mirror_url="https://m.internal")["url"] == \
        "https://m.internal/artifacts/pkg/2.0/any/pkg-2.0.tar.gz"
    # An empty mirror keeps the upstream.
    resolved = _artifact.resolve(table("https://upstream.example/dl", sha(PAYLOAD)), "tool", "x86_64", str(tmp_path),
                                 mirror_url="")
    assert resolved["url"].startswith("https://upstream.example/dl/")


def test_entry_keys_are_placeholders_and_any_arch(tmp_path):
    pypi = {"version": "2.0", "base": "https://files.example", "url": "{base}/packages/{path}",
            "member": "pkg-{version}.data/bin/tool",
            "architectures": {"any": {"path": "ab/cd/pkg-2.0.tar.gz", "sha256": "A" * 64}}}
    resolved = _artifact.resolve(pypi, "pkg", "riscv64", str(tmp_path))
    assert resolved["url"] == "https://files.example/packages/ab/cd/pkg-2.0.tar.gz"
    assert resolved["sha256"] == "a" * 64
    assert resolved["member"] == "pkg-2.0.data/bin/tool"
    assert resolved["cache_path"].endswith("/pkg/2.0/any/pkg-2.0.tar.gz")


def test_empty_digest_is_refused_naming_artifact_and_variable(tmp_path):
    with pytest.raises(_artifact.ArtifactError, match=r"tool 1\.2\.3 for arm64 has no valid sha256.*tool_sha256"):
        _artifact.resolve(table("https://u", sha(PAYLOAD)), "tool", "aarch64", str(tmp_path), sha256_variable="tool_sha256")
    with pytest.raises(_artifact.ArtifactError, match="no valid sha256"):
        _artifact.resolve(table("https://u", "not-a-digest"), "tool", "x86_64", str(tmp_path))


def test_override_digest_by_architecture(tmp_path):
    resolved = _artifact.resolve(table("https://u", ""), "tool", "aarch64", str(tmp_path), sha256={"arm64": "b" * 64})
    assert resolved["sha256"] == "b" * 64
    with pytest.raises(_artifact.ArtifactError, match=r"set tool_sha256 \(64 hex digits, keyed by architecture\)"):
        _artifact.resolve(table("https://u", ""), "tool", "x86_64", str(tmp_path), sha256={"arm64": "b" * 64},
                          sha256_variable="tool_sha256")


def test_unknown_architecture_and_bad_template(tmp_path):
    with pytest.raises(_artifact.ArtifactError, match="no build for architecture s390x"):
        _artifact.resolve(table("https://u", sha(PAYLOAD)), "tool", "s390x", str(tmp_path))
    bad = table("https://u", sha(PAYLOAD), url="{base}/{missing}")
    with pytest.raises(_artifact.ArtifactError, match="missing"):
        _artifact.resolve(bad, "tool", "x86_64", str(tmp_path))
    with pytest.raises(_artifact.ArtifactError, match="relative path"):
        _artifact.resolve(table("https://u", sha(PAYLOAD)), "tool", "x86_64", str(tmp_path), member="../etc/passwd")


def publish(root, data):
    """The file at its upstream path and at its mirror path; returns the mirror's request path."""
    for path in (root / "v1.2.3" / "tool_1.2.3_x86_64.bin", root / "artifacts" / "tool" / "1.2.3" / "amd64" / "tool_1.2.3_x86_64.bin"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return "/artifacts/tool/1.2.3/amd64/tool_1.2.3_x86_64.bin"


def test_download_verifies_and_is_cached(server, tmp_path):
    root, base, hits = server
    request_path = publish(root, PAYLOAD)
    resolved = _artifact.resolve(table("https://unreachable.invalid", sha(PAYLOAD)), "tool", "x86_64",
                                 str(tmp_path / "cache"), mirror_url=base)
    assert _artifact.fetch(resolved, retries=0) is True
    with open(resolved["cache_path"], "rb") as handle:
        assert handle.read() == PAYLOAD
    assert hits[request_path] == 1
    # A cached file whose digest matches is not downloaded again.
    assert _artifact.fetch(resolved, retries=0) is False
    assert hits[request_path] == 1
    assert _artifact.cached(resolved)


def test_wrong_digest_fails_and_leaves_nothing_in_the_cache(server, tmp_path):
    root, base = server[:2]
    publish(root, PAYLOAD)
    resolved = _artifact.resolve(table(base, sha(b"something else")), "tool", "x86_64", str(tmp_path / "cache"))
    with pytest.raises(_artifact.ArtifactError, match=r"tool 1\.2\.3: .* has sha256 %s, expected" % sha(PAYLOAD)):
        _artifact.fetch(resolved, retries=2, delay=0)
    folder = os.path.dirname(resolved["cache_path"])
    assert [name for name in os.listdir(folder) if not name.endswith(".lock")] == []


def test_a_tampered_cache_file_is_replaced(server, tmp_path):
    root, base, hits = server
    request_path = publish(root, PAYLOAD)
    resolved = _artifact.resolve(table("https://unreachable.invalid", sha(PAYLOAD)), "tool", "x86_64",
                                 str(tmp_path / "cache"), mirror_url=base)
    os.makedirs(os.path.dirname(resolved["cache_path"]))
    with open(resolved["cache_path"], "wb") as handle:
        handle.write(b"truncated")
    assert _artifact.fetch(resolved, retries=0) is True
    assert hits[request_path] == 1
    assert _artifact.sha256_file(resolved["cache_path"]) == sha(PAYLOAD)


def test_network_errors_are_retried_then_reported(server, tmp_path):
    base, hits = server[1:]
    resolved = _artifact.resolve(table(base, sha(PAYLOAD)), "tool", "x86_64", str(tmp_path / "cache"))
    with pytest.raises(_artifact.ArtifactError, match="failed after 3 attempts"):
        _artifact.fetch(resolved, retries=2, delay=0)
    assert hits["/v1.2.3/tool_1.2.3_x86_64.bin"] == 3
    assert not os.path.exists(resolved["cache_path"])


def wheel_bytes(member, data):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("pkg/__init__.py", "")
        bundle.writestr(member, data)
    return buffer.getvalue()


def tar_bytes(member, data):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("make, suffix", [(wheel_bytes, "whl"), (tar_bytes, "tar.gz")])
def test_extract_one_member(server, tmp_path, make, suffix):
    root, base = server[:2]
    archive = make("pkg-1.2.3.data/bin/tool", PAYLOAD)
    (root / ("pkg." + suffix)).write_bytes(archive)
    pkg = {"version": "1.2.3", "base": base, "url": "{base}/pkg.%s" % suffix, "member": "pkg-{version}.data/bin/tool",
           "architectures": {"any": {"sha256": sha(archive)}}}
    resolved = _artifact.resolve(pkg, "pkg", "x86_64", str(tmp_path / "cache"))
    assert _artifact.fetch(resolved, retries=0) is True
    assert _artifact.extract(resolved) is True
    with open(resolved["member_path"], "rb") as handle:
        assert handle.read() == PAYLOAD
    # Unpacked once per archive digest.
    assert _artifact.extract(resolved) is False
    missing = dict(resolved, member="pkg/nothing", member_path=resolved["member_path"] + "-x")
    with pytest.raises(_artifact.ArtifactError, match="has no file pkg/nothing"):
        _artifact.extract(missing)


def test_missing_digest_points_at_the_upstream_list(tmp_path):
    listed = table("https://u", "", checksums_url="{base}/v{version}/SHA256SUMS")
    with pytest.raises(_artifact.ArtifactError, match=r"https://u/v1\.2\.3/SHA256SUMS.*tool_1\.2\.3_x86_64\.bin"):
        _artifact.resolve(listed, "tool", "x86_64", str(tmp_path), sha256="", sha256_variable="tool_sha256")

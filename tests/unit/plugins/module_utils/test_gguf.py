"""Unit tests of the standard-library GGUF header reader, against files written by the gguf package."""

import struct

import numpy as np
import pytest

import gguf
from ansible_collections.llm_infra.cluster.plugins.module_utils import _gguf


def _write(path, ctx=1234, vocab=300, template=None):
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("unit-model")
    writer.add_context_length(ctx)
    writer.add_embedding_length(8)
    writer.add_block_count(1)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(["tok%d" % i for i in range(vocab)])
    writer.add_token_scores([0.5] * vocab)
    if template:
        writer.add_chat_template(template)
    writer.add_array("unit.small_array", [1, 2, 3])
    writer.add_bool("unit.flag", True)
    writer.add_float64("unit.double", 2.5)
    writer.add_tensor("token_embd.weight", np.zeros((vocab, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_reads_context_length_and_summary(tmp_path):
    path = tmp_path / "m.gguf"
    _write(path, ctx=1234)
    info = _gguf.read_metadata(str(path))
    summary = _gguf.summary(info)
    assert summary["architecture"] == "llama"
    assert summary["context_length"] == 1234
    assert summary["name"] == "unit-model"
    assert summary["tensor_count"] == 1
    assert summary["has_chat_template"] is False
    assert summary["version"] == 3


def test_values_of_each_kind(tmp_path):
    path = tmp_path / "m.gguf"
    _write(path, template="{{ messages }}")
    meta = _gguf.read_metadata(str(path))["metadata"]
    assert meta["unit.small_array"] == [1, 2, 3]
    assert meta["unit.flag"] is True
    assert meta["unit.double"] == 2.5
    # Long arrays are summarised, not loaded.
    assert meta["tokenizer.ggml.tokens"] == {"array_length": 300}
    assert meta["tokenizer.ggml.scores"] == {"array_length": 300}
    assert _gguf.summary({"metadata": meta, "tensor_count": 1, "version": 3})["has_chat_template"] is True


def test_not_a_gguf_file(tmp_path):
    path = tmp_path / "x.gguf"
    path.write_bytes(b"NOPE" + b"\0" * 20)
    with pytest.raises(_gguf.GGUFError, match="bad magic"):
        _gguf.read_metadata(str(path))


def test_truncated_header(tmp_path):
    full = tmp_path / "m.gguf"
    _write(full)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(full.read_bytes()[:200])
    with pytest.raises(_gguf.GGUFError, match="ends inside"):
        _gguf.read_metadata(str(cut))


def test_unsupported_version(tmp_path):
    path = tmp_path / "v9.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<I", 9) + b"\0" * 16)
    with pytest.raises(_gguf.GGUFError, match="unsupported GGUF version 9"):
        _gguf.read_metadata(str(path))


def test_missing_context_length_is_zero():
    assert _gguf.summary({"metadata": {"general.architecture": "x"}, "tensor_count": 0, "version": 3})["context_length"] == 0

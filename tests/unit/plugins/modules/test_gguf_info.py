"""Unit tests of the gguf_info module: the module's result for a real GGUF and its failure on a bad file."""

import numpy as np

import gguf
from ansible_collections.llm_infra.cluster.plugins.modules import gguf_info


def test_reports_the_trained_context(tmp_path, run_module):
    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_context_length(32768)
    writer.add_block_count(18)
    writer.add_tensor("t", np.zeros(4, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    out = run_module(gguf_info.main, {"path": str(path), "keys": ["gemma3.block_count", "absent.key"]})
    assert out["context_length"] == 32768
    assert out["architecture"] == "gemma3"
    assert out["metadata"] == {"gemma3.block_count": 18}
    assert out["changed"] is False


def test_fails_on_a_file_that_is_not_gguf(tmp_path, run_module):
    path = tmp_path / "m.bin"
    path.write_bytes(b"\0" * 64)
    out = run_module(gguf_info.main, {"path": str(path)})
    assert out["failed"] is True
    assert "cannot read the GGUF metadata" in out["msg"]

"""Unit tests of the gguf_info module: the module's result for a real GGUF and its failure on a bad file."""

import json

import numpy as np
import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

import gguf
from ansible_collections.llm_infra.cluster.plugins.modules import gguf_info


def _run(monkeypatch, capsys, args):
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    with pytest.raises(SystemExit):
        gguf_info.main()
    return json.loads(capsys.readouterr().out)


def test_reports_the_trained_context(tmp_path, monkeypatch, capsys):
    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_context_length(32768)
    writer.add_block_count(18)
    writer.add_tensor("t", np.zeros(4, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    out = _run(monkeypatch, capsys, {"path": str(path), "keys": ["gemma3.block_count", "absent.key"]})
    assert out["context_length"] == 32768
    assert out["architecture"] == "gemma3"
    assert out["metadata"] == {"gemma3.block_count": 18}
    assert out["changed"] is False


def test_fails_on_a_file_that_is_not_gguf(tmp_path, monkeypatch, capsys):
    path = tmp_path / "m.bin"
    path.write_bytes(b"\0" * 64)
    out = _run(monkeypatch, capsys, {"path": str(path)})
    assert out["failed"] is True
    assert "cannot read the GGUF metadata" in out["msg"]

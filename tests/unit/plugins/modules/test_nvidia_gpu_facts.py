"""Unit tests of nvidia_gpu_facts: parsing a real H100 report and the fallbacks for the compute capability."""

import json
import os

import pytest

from ansible_collections.llm_infra.cluster.plugins.modules import nvidia_gpu_facts

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


def _h100():
    with open(os.path.join(FIXTURES, "nvidia-smi-q-x-h100.xml"), encoding="utf-8") as handle:
        return handle.read()


def test_real_h100_report():
    result = nvidia_gpu_facts.parse_report(_h100())
    assert result["driver_version"] == "580.159.04"
    assert result["cuda_version"] == "13.0"
    assert len(result["gpus"]) == 1
    gpu = result["gpus"][0]
    assert gpu["name"] == "NVIDIA H100 80GB HBM3"
    assert gpu["architecture"] == "Hopper"
    assert gpu["compute_capability"] == "9.0"
    assert gpu["memory_total_mib"] == 81559
    assert gpu["index"] == 0
    assert gpu["pci_bus_id"] == "00000000:00:06.0"
    assert result["cuda_architectures"] == ["90"]


def test_query_capability_wins_over_architecture_table():
    result = nvidia_gpu_facts.parse_report(_h100(), ["9.0a"])
    assert result["gpus"][0]["compute_capability"] == "9.0a"
    assert result["cuda_architectures"] == ["90a"]


def test_two_gpus_of_different_kinds():
    report = _h100()
    start = report.index("<gpu ")
    end = report.index("</gpu>") + len("</gpu>")
    gpu = report[start:end]
    ada = gpu.replace("Hopper", "Ada Lovelace").replace("NVIDIA H100 80GB HBM3", "NVIDIA L4").replace("81559 MiB", "23034 MiB")
    report = report[:end] + ada + report[end:]
    result = nvidia_gpu_facts.parse_report(report)
    assert [g["index"] for g in result["gpus"]] == [0, 1]
    assert [g["compute_capability"] for g in result["gpus"]] == ["9.0", "8.9"]
    assert result["gpus"][1]["memory_total_mib"] == 23034
    # Sorted numerically, one entry per distinct architecture.
    assert result["cuda_architectures"] == ["89", "90"]


def test_explicit_compute_cap_element_is_used():
    report = _h100().replace("<product_architecture>Hopper</product_architecture>",
                             "<product_architecture>Unknown</product_architecture><compute_cap>12.0</compute_cap>")
    assert nvidia_gpu_facts.parse_report(report)["cuda_architectures"] == ["120"]


def test_no_gpus():
    result = nvidia_gpu_facts.parse_report("<nvidia_smi_log><driver_version>580</driver_version></nvidia_smi_log>")
    assert result["gpus"] == [] and result["cuda_architectures"] == []


@pytest.mark.parametrize("value, expected", [("81559 MiB", 81559), ("N/A", 0), ("", 0), ("12 GiB", 0)])
def test_memory(value, expected):
    assert nvidia_gpu_facts._mib(value) == expected


def test_module_without_nvidia_smi(monkeypatch, capsys):
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": {"nvidia_smi": "no-such-nvidia-smi-binary"}})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    with pytest.raises(SystemExit):
        nvidia_gpu_facts.main()
    out = json.loads(capsys.readouterr().out)
    assert out["gpus"] == [] and out["changed"] is False and "failed" not in out

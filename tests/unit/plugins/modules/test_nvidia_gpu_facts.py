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


# --- Health, PCI bus and kernel module (the driver role's verification) ---


def test_real_h100_health_fields():
    gpu = nvidia_gpu_facts.parse_report(_h100())["gpus"][0]
    assert gpu["pci_device_id"] == "0x2330"
    assert gpu["persistence_mode"] is True
    assert gpu["ecc_mode"] == {"current": "Enabled", "pending": "Enabled"}
    # The H100 reports N/A for page retirement (it remaps rows instead): counted as none.
    assert gpu["retired_pages"] == {"single_bit": 0, "double_bit": 0, "pending": False}
    assert gpu["remapped_rows"] == {"correctable": 0, "uncorrectable": 0, "pending": False, "failure": False}
    assert nvidia_gpu_facts.parse_report(_h100())["problems"] == []


def test_unhealthy_gpu_is_reported_with_index_and_bus():
    report = (_h100()
              .replace("<remapped_row_failure>No</remapped_row_failure>", "<remapped_row_failure>Yes</remapped_row_failure>")
              .replace("<remapped_row_pending>No</remapped_row_pending>", "<remapped_row_pending>Yes</remapped_row_pending>")
              .replace("<pending_ecc>Enabled</pending_ecc>", "<pending_ecc>Disabled</pending_ecc>")
              .replace("<persistence_mode>Enabled</persistence_mode>", "<persistence_mode>Disabled</persistence_mode>"))
    result = nvidia_gpu_facts.parse_report(report)
    assert result["gpus"][0]["persistence_mode"] is False
    assert result["problems"] == [
        "GPU 0 (00000000:00:06.0): ECC mode Enabled, Disabled pending until the GPU is reset",
        "GPU 0 (00000000:00:06.0): row remapping failed, the GPU needs service",
        "GPU 0 (00000000:00:06.0): row remapping pending, the GPU needs a reset",
    ]


def test_pending_page_retirement_on_a_volta():
    # A V100 (pre-Turing) retires pages instead of remapping rows: its report has counts and no remapped_rows.
    report = _h100()
    start, end = report.index("<remapped_rows>"), report.index("</remapped_rows>") + len("</remapped_rows>")
    report = (report[:start] + report[end:]).replace("Hopper", "Volta").replace("233010DE", "1DB410DE")
    report = report.replace("<pending_retirement>N/A</pending_retirement>", "<pending_retirement>Yes</pending_retirement>")
    report = report.replace("<retired_count>N/A</retired_count>", "<retired_count>2</retired_count>", 1)
    result = nvidia_gpu_facts.parse_report(report)
    gpu = result["gpus"][0]
    assert gpu["architecture"] == "Volta" and gpu["pci_device_id"] == "0x1db4"
    assert gpu["retired_pages"] == {"single_bit": 2, "double_bit": 0, "pending": True}
    assert gpu["remapped_rows"] == {"correctable": 0, "uncorrectable": 0, "pending": False, "failure": False}
    assert result["problems"] == ["GPU 0 (00000000:00:06.0): retired pages pending, the GPU needs a reset"]


@pytest.mark.parametrize("device_id, architecture", [
    ("0x1db4", "Volta"),        # Tesla V100-PCIE-16GB
    ("0x1b06", "Pascal"),       # GTX 1080 Ti
    ("0x15f8", "Pascal"),       # Tesla P100-PCIE-16GB
    ("0x17c2", "Maxwell"),      # GTX TITAN X
    ("0x1eb8", "Turing"),       # Tesla T4
    ("0x2182", "Turing"),       # GTX 1660 Ti (TU116)
    ("0x20b0", "Ampere"),       # A100-SXM4-40GB
    ("0x2236", "Ampere"),       # A10
    ("0x27b8", "Ada Lovelace"),  # L4
    ("0x26b5", "Ada Lovelace"),  # L40
    ("0x2330", "Hopper"),       # H100 80GB HBM3
    ("0x2335", "Hopper"),       # H200
    ("0x2901", "Blackwell"),    # B200
    ("0x2b85", "Blackwell"),    # RTX 5090
    ("0x3182", "Blackwell or later"),
    ("0x0001", "Unknown"),
])
def test_pci_architecture(device_id, architecture):
    assert nvidia_gpu_facts.pci_architecture(device_id) == architecture


def _pci_device(root, bus_id, vendor, device, klass):
    folder = root / "bus" / "pci" / "devices" / bus_id
    folder.mkdir(parents=True)
    # sysfs writes each value as hex with a trailing newline.
    for name, value in (("vendor", vendor), ("device", device), ("class", klass)):
        (folder / name).write_text(value + "\n", encoding="ascii")


def test_scan_pci_finds_nvidia_gpus_only(tmp_path):
    _pci_device(tmp_path, "0000:c1:00.0", "0x10de", "0x2330", "0x030200")   # H100 SXM, 3D controller
    _pci_device(tmp_path, "0000:41:00.0", "0x10de", "0x1db4", "0x030000")   # V100 PCIe, VGA controller
    _pci_device(tmp_path, "0000:c1:00.1", "0x10de", "0x22a3", "0x068000")   # NVSwitch bridge: not a GPU
    _pci_device(tmp_path, "0000:00:02.0", "0x8086", "0x46a6", "0x030000")   # Intel iGPU
    assert nvidia_gpu_facts.scan_pci(str(tmp_path)) == [
        {"pci_bus_id": "0000:41:00.0", "device_id": "0x1db4", "architecture": "Volta"},
        {"pci_bus_id": "0000:c1:00.0", "device_id": "0x2330", "architecture": "Hopper"},
    ]


def test_scan_pci_without_sysfs(tmp_path):
    assert nvidia_gpu_facts.scan_pci(str(tmp_path / "missing")) == []


@pytest.mark.parametrize("line, expected", [
    ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (dvs-builder@U22-I3-AE18-23-3)  Thu Nov 20 2025",
     {"version": "580.159.04", "flavour": "open"}),
    ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.261.03  Wed Jul 30 13:42:14 UTC 2025",
     {"version": "535.261.03", "flavour": "proprietary"}),
    ("NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  550.163.01  Release Build  (pbuilder@localhost)",
     {"version": "550.163.01", "flavour": "open"}),
])
def test_kernel_module_version(tmp_path, line, expected):
    folder = tmp_path / "driver" / "nvidia"
    folder.mkdir(parents=True)
    (folder / "version").write_text(line + "\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n", encoding="ascii")
    assert nvidia_gpu_facts.kernel_module(str(tmp_path)) == expected


def test_kernel_module_not_loaded(tmp_path):
    assert nvidia_gpu_facts.kernel_module(str(tmp_path)) == {"version": "", "flavour": ""}


def test_module_state_without_driver(tmp_path, run_module):
    args = {"nvidia_smi": "no-such-nvidia-smi-binary", "sysfs_root": str(tmp_path), "procfs_root": str(tmp_path)}
    out = run_module(nvidia_gpu_facts.main, args)
    assert out["state"] == "no_driver"
    assert out["pci_gpus"] == [] and out["kernel_module"] == {"version": "", "flavour": ""}


def test_module_nvml_failure_is_no_gpu_visible(tmp_path, run_module):
    import sys

    # What nvidia-smi prints in a container with the userspace installed but no GPU or module.
    def run_command(self, argv, **kwargs):
        return 255, "Failed to initialize NVML: Unknown Error\n", ""

    out = run_module(nvidia_gpu_facts.main, {"nvidia_smi": sys.executable, "sysfs_root": str(tmp_path), "procfs_root": str(tmp_path)},
                     run_command)
    assert out["state"] == "no_gpu_visible"
    assert out["nvidia_smi_rc"] == 255
    assert out["nvidia_smi_error"] == "Failed to initialize NVML: Unknown Error"
    assert out["gpus"] == [] and "failed" not in out


def test_module_reads_a_recorded_report(tmp_path, run_module):
    _pci_device(tmp_path, "0000:00:06.0", "0x10de", "0x2330", "0x030200")
    args = {"report": os.path.join(FIXTURES, "nvidia-smi-q-x-h100.xml"), "sysfs_root": str(tmp_path), "procfs_root": str(tmp_path)}
    out = run_module(nvidia_gpu_facts.main, args)
    assert out["state"] == "ok"
    assert out["driver_version"] == "580.159.04"
    assert [g["name"] for g in out["gpus"]] == ["NVIDIA H100 80GB HBM3"]
    assert out["pci_gpus"] == [{"pci_bus_id": "0000:00:06.0", "device_id": "0x2330", "architecture": "Hopper"}]
    assert out["problems"] == []


def test_module_fails_on_a_missing_recorded_report(tmp_path, run_module):
    out = run_module(nvidia_gpu_facts.main, {"report": str(tmp_path / "absent.xml")})
    assert out["failed"] is True and "cannot read the recorded report" in out["msg"]


# --- NVSwitch, NVLink fabric and MIG mode (Fabric Manager and MIG planning) ---


def _fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def test_single_h100_has_no_fabric():
    result = nvidia_gpu_facts.parse_report(_h100())
    assert result["gpus"][0]["fabric"] == {"state": "N/A", "status": "N/A"}
    assert result["gpus"][0]["mig_mode"] == {"current": "Disabled", "pending": "Disabled"}
    assert result["fabric_attached"] is False
    # Without NVSwitch the role ignores these lines; they say why the fabric is not up.
    assert result["fabric_problems"] == [
        "GPU 0 (00000000:00:06.0): NVLink fabric state N/A, status N/A (is nvidia-fabricmanager running at the driver's version?)"]


def test_nvswitch_baseboard_with_the_fabric_up():
    result = nvidia_gpu_facts.parse_report(_fixture("nvidia-smi-q-x-hgx-h100-nvswitch.xml"))
    assert [g["pci_bus_id"] for g in result["gpus"]] == ["00000000:18:00.0", "00000000:2A:00.0"]
    assert [g["fabric"] for g in result["gpus"]] == [{"state": "Completed", "status": "Success"}] * 2
    assert result["fabric_attached"] is True
    assert result["fabric_problems"] == []


def test_nvswitch_fabric_still_coming_up_is_a_problem():
    report = _fixture("nvidia-smi-q-x-hgx-h100-nvswitch.xml").replace(
        "<state>Completed</state>\n\t\t\t<status>Success</status>", "<state>In Progress</state>\n\t\t\t<status>N/A</status>", 1)
    result = nvidia_gpu_facts.parse_report(report)
    assert result["fabric_attached"] is True
    assert result["fabric_problems"] == [
        "GPU 0 (00000000:18:00.0): NVLink fabric state In Progress, status N/A (is nvidia-fabricmanager running at the driver's version?)"]


def test_mig_enabled_report():
    gpu = nvidia_gpu_facts.parse_report(_fixture("nvidia-smi-q-x-h100-mig.xml"))["gpus"][0]
    assert gpu["mig_mode"] == {"current": "Enabled", "pending": "Enabled"}


def test_scan_nvswitches(tmp_path):
    _pci_device(tmp_path, "0000:05:00.0", "0x10de", "0x22a3", "0x068000")   # NVSwitch (Hopper baseboard)
    _pci_device(tmp_path, "0000:06:00.0", "0x10de", "0x22a3", "0x068000")
    _pci_device(tmp_path, "0000:18:00.0", "0x10de", "0x2330", "0x030200")   # H100 SXM: a GPU, not a switch
    _pci_device(tmp_path, "0000:00:1f.0", "0x8086", "0x1234", "0x068000")   # another vendor's bridge
    assert nvidia_gpu_facts.scan_nvswitches(str(tmp_path)) == [
        {"pci_bus_id": "0000:05:00.0", "device_id": "0x22a3"},
        {"pci_bus_id": "0000:06:00.0", "device_id": "0x22a3"},
    ]
    assert nvidia_gpu_facts.scan_nvswitches(str(tmp_path / "missing")) == []


def test_module_reports_nvswitches_from_sysfs_with_a_recorded_report(tmp_path, run_module):
    _pci_device(tmp_path, "0000:05:00.0", "0x10de", "0x22a3", "0x068000")
    out = run_module(nvidia_gpu_facts.main, {"report": os.path.join(FIXTURES, "nvidia-smi-q-x-hgx-h100-nvswitch.xml"),
                                             "sysfs_root": str(tmp_path), "procfs_root": str(tmp_path)})
    assert out["state"] == "ok" and len(out["gpus"]) == 2
    assert out["nvswitches"] == [{"pci_bus_id": "0000:05:00.0", "device_id": "0x22a3"}]
    assert out["fabric_attached"] is True and out["fabric_problems"] == []

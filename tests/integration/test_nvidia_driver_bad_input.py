"""Bad input to the nvidia_driver role fails in preflight, before any change, naming the variable.

Each case applies the role to localhost (connection local) in check mode. This machine is Debian 12 without an
NVIDIA GPU or driver, which the GPU count cases rely on; GPUs other than none come from recorded `nvidia-smi -q -x`
reports (the real H100 one in tests/unit/fixtures, and a pre-Turing and a Blackwell GPU written from it in NVIDIA's
format) through the role's nvidia_driver_gpu_report.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from playbook_runner import REPO, run_playbook

H100 = REPO / "tests" / "unit" / "fixtures" / "nvidia-smi-q-x-h100.xml"


def _report(tmp_path: Path, architecture: str, name: str, device_id: str) -> str:
    text = H100.read_text(encoding="utf-8")
    text = text.replace("<product_architecture>Hopper</product_architecture>", f"<product_architecture>{architecture}</product_architecture>")
    text = text.replace("NVIDIA H100 80GB HBM3", name).replace("233010DE", device_id + "10DE")
    path = tmp_path / f"{architecture.lower()}.xml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def run_role(tmp_path: Path, role_vars: dict) -> subprocess.CompletedProcess:
    play = [
        {
            "name": "Apply the nvidia_driver role with bad input",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": True,
            "vars": role_vars,
            "tasks": [{"name": "Apply the role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.nvidia_driver"}}],
        }
    ]
    return run_playbook(tmp_path, play)


def _assert_refused(result: subprocess.CompletedProcess, expected: list[str]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert re.search(r"^(fatal|failed): \[localhost\]", output, re.MULTILINE), output
    # The callback folds long messages over several lines: compare with the whitespace collapsed.
    flat = " ".join(output.split())
    for fragment in expected:
        assert fragment in flat, f"{fragment!r} missing from the output:\n{output}"
    # Nothing past preflight ran: no source edited, no pin written, nothing installed.
    for later in ("Add the components", "Pin the driver version", "Install the driver", "Blacklist nouveau"):
        assert later not in output, output


@pytest.fixture(scope="module")
def debian12():
    release = Path("/etc/os-release").read_text(encoding="utf-8")
    if 'VERSION_ID="12"' not in release or "ID=debian" not in release:
        pytest.skip("the branch cases name Debian 12's offer; this machine is not Debian 12")


def test_branch_the_distribution_does_not_offer(tmp_path, debian12):
    result = run_role(tmp_path, {"nvidia_driver_branch": "570", "nvidia_driver_require_gpu": False})
    _assert_refused(result, ["nvidia_driver_branch 570 is not offered by distribution packages on Debian 12; it offers 535"])


def test_version_outside_the_branch(tmp_path):
    result = run_role(tmp_path, {"nvidia_driver_branch": "550", "nvidia_driver_version": "535.261.03"})
    _assert_refused(result, ["nvidia_driver_version ('535.261.03') empty or a version like 550.163.01 within nvidia_driver_branch"])


def test_open_modules_on_a_gpu_before_turing(tmp_path):
    report = _report(tmp_path, "Volta", "Tesla V100-SXM2-16GB", "1DB1")
    result = run_role(tmp_path, {"nvidia_driver_kernel_modules": "open", "nvidia_driver_gpu_report": report})
    _assert_refused(result, ["nvidia_driver_kernel_modules open (open) cannot drive the GPUs of localhost (Volta)",
                             "the open kernel modules support Turing and later only, set nvidia_driver_kernel_modules: proprietary"])


def test_proprietary_modules_on_blackwell(tmp_path):
    report = _report(tmp_path, "Blackwell", "NVIDIA B200", "2901")
    result = run_role(tmp_path, {"nvidia_driver_kernel_modules": "proprietary", "nvidia_driver_gpu_report": report})
    _assert_refused(result, ["cannot drive the GPUs of localhost (Blackwell)",
                             "Blackwell and later need the open kernel modules, set nvidia_driver_kernel_modules: open"])


def test_blackwell_on_a_branch_too_old(tmp_path, debian12):
    report = _report(tmp_path, "Blackwell", "NVIDIA B200", "2901")
    result = run_role(tmp_path, {"nvidia_driver_gpu_report": report})
    _assert_refused(result, ["localhost has Blackwell GPUs, which need driver branch 570 or later; nvidia_driver_branch is 535"])


def test_expected_gpu_count_the_host_does_not_have(tmp_path):
    result = run_role(tmp_path, {"nvidia_driver_expected_gpus": 8})
    _assert_refused(result, ["localhost has 0 NVIDIA GPU(s) (PCI bus: none) but nvidia_driver_expected_gpus is 8"])


def test_expected_gpu_count_against_a_recorded_report(tmp_path):
    result = run_role(tmp_path, {"nvidia_driver_expected_gpus": 2, "nvidia_driver_gpu_report": str(H100)})
    _assert_refused(result, ["localhost has 1 NVIDIA GPU(s) (nvidia-smi: 00000000:00:06.0) but nvidia_driver_expected_gpus is 2"])


def test_gpu_required_on_a_host_without_one(tmp_path):
    result = run_role(tmp_path, {})
    _assert_refused(result, ["localhost has 0 NVIDIA GPU(s)", "nvidia_driver_require_gpu is true (set it to false for a host without GPUs)"])


def test_cuda_repository_without_the_key_digest(tmp_path):
    result = run_role(tmp_path, {"nvidia_driver_source": "cuda", "nvidia_driver_require_gpu": False})
    _assert_refused(result, ["nvidia_driver_source cuda needs nvidia_driver_cuda_key_fingerprint", "nvidia_driver_cuda_key_sha256",
                             "/compute/cuda/repos/debian12/x86_64/"])


def test_mok_key_without_certificate(tmp_path):
    result = run_role(tmp_path, {"nvidia_driver_mok_key_file": "/var/lib/dkms/mok.key"})
    _assert_refused(result, ["nvidia_driver_mok_key_file and nvidia_driver_mok_cert_file both set or both empty"])


def test_unknown_source_and_module_flavour(tmp_path):
    result = run_role(tmp_path, {"nvidia_driver_source": "runfile", "nvidia_driver_kernel_modules": "nouveau"})
    # The argument specs refuse these first, each named.
    _assert_refused(result, ["value of nvidia_driver_source must be one of: distribution, cuda, got: runfile",
                             "value of nvidia_driver_kernel_modules must be one of: auto, open, proprietary, got: nouveau"])


def test_fabric_manager_of_another_version(tmp_path):
    result = run_role(tmp_path, {"nvidia_driver_fabric_manager_version": "535.999.99", "nvidia_driver_require_gpu": False})
    _assert_refused(result, ["nvidia_driver_fabric_manager_version 535.999.99 is not the driver's version"])


def test_nvswitch_host_on_a_source_without_fabric_manager(tmp_path, debian12):
    report = str(REPO / "tests" / "unit" / "fixtures" / "nvidia-smi-q-x-hgx-h100-nvswitch.xml")
    result = run_role(tmp_path, {"nvidia_driver_gpu_report": report})
    _assert_refused(result, ["localhost needs Fabric Manager (its GPUs report an NVLink fabric), which nvidia_driver_source "
                             "distribution does not offer on Debian: set nvidia_driver_source: cuda"])


def test_mig_profile_the_gpu_model_does_not_have(tmp_path):
    result = run_role(tmp_path, {"nvidia_driver_gpu_report": str(H100), "nvidia_driver_mig_profiles": {"0": ["3g.40gb", "1g.5gb"]}})
    _assert_refused(result, ["nvidia_driver_mig_profiles does not fit the GPUs of localhost: GPU 0 (NVIDIA H100 80GB HBM3): "
                             "1g.5gb is not a MIG profile of this model; it has 1g.10gb, 1g.10gb+me, 1g.20gb, 2g.20gb, 3g.40gb, "
                             "4g.40gb, 7g.80gb"])


def test_mig_layout_larger_than_the_gpu(tmp_path):
    result = run_role(tmp_path, {"nvidia_driver_gpu_report": str(H100), "nvidia_driver_mig_profiles": {"0": ["4g.40gb", "4g.40gb"]}})
    _assert_refused(result, ["nvidia_driver_mig_profiles does not fit", "2 x 4g.40gb, at most 1 fit"])

"""Bad input to the nvidia_driver role fails in preflight, before any change, naming the variable.

All the cases apply the role in one playbook in check mode, one inventory host per case, each connected locally to
this machine (see playbook_runner.run_cases): the preflight keeps the hosts apart (no run_once, no group sizes), and
each message names the case's own host. This machine is Debian 12 without an NVIDIA GPU or driver, which the GPU
count cases rely on; GPUs other than none come from recorded `nvidia-smi -q -x` reports (the real H100 one in
tests/unit/fixtures, and a pre-Turing and a Blackwell GPU written from it in NVIDIA's format) through the role's
nvidia_driver_gpu_report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook_runner import REPO, assert_case_fails_naming, run_cases

FIXTURES = REPO / "tests" / "unit" / "fixtures"
H100 = FIXTURES / "nvidia-smi-q-x-h100.xml"
NVSWITCH = FIXTURES / "nvidia-smi-q-x-hgx-h100-nvswitch.xml"

# Reports written from the H100 one: architecture, product name, PCI device id.
WRITTEN_REPORTS = {
    "volta": ("Volta", "Tesla V100-SXM2-16GB", "1DB1"),
    "blackwell": ("Blackwell", "NVIDIA B200", "2901"),
}

PLAY = [
    {
        "name": "Apply the nvidia_driver role with bad input",
        "hosts": "cases",
        "gather_facts": True,
        "tasks": [
            {"name": "Apply the role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.nvidia_driver"}},
        ],
    }
]

# Nothing past preflight ran: no source edited, no pin written, nothing installed.
LATER = ("Add the components", "Pin the driver version", "Install the driver", "Blacklist nouveau")

# case: (role variables, the GPU report (a fixture, a key of WRITTEN_REPORTS or None), what the refusal names).
# "{host}" in a needle stands for the case's host, which the messages name.
CASES = {
    "version-outside-the-branch": (
        {"nvidia_driver_branch": "550", "nvidia_driver_version": "535.261.03"},
        None,
        ["nvidia_driver_version ('535.261.03') empty or a version like 550.163.01 within nvidia_driver_branch"],
    ),
    "open-modules-on-a-gpu-before-turing": (
        {"nvidia_driver_kernel_modules": "open"},
        "volta",
        ["nvidia_driver_kernel_modules open (open) cannot drive the GPUs of {host} (Volta)",
         "the open kernel modules support Turing and later only, set nvidia_driver_kernel_modules: proprietary"],
    ),
    "proprietary-modules-on-blackwell": (
        {"nvidia_driver_kernel_modules": "proprietary"},
        "blackwell",
        ["cannot drive the GPUs of {host} (Blackwell)",
         "Blackwell and later need the open kernel modules, set nvidia_driver_kernel_modules: open"],
    ),
    "expected-gpu-count-the-host-does-not-have": (
        {"nvidia_driver_expected_gpus": 8},
        None,
        ["{host} has 0 NVIDIA GPU(s) (PCI bus: none) but nvidia_driver_expected_gpus is 8"],
    ),
    "expected-gpu-count-against-a-recorded-report": (
        {"nvidia_driver_expected_gpus": 2},
        H100,
        ["{host} has 1 NVIDIA GPU(s) (nvidia-smi: 00000000:00:06.0) but nvidia_driver_expected_gpus is 2"],
    ),
    "gpu-required-on-a-host-without-one": (
        {},
        None,
        ["{host} has 0 NVIDIA GPU(s)", "nvidia_driver_require_gpu is true (set it to false for a host without GPUs)"],
    ),
    "cuda-repository-without-the-key-digest": (
        {"nvidia_driver_source": "cuda", "nvidia_driver_require_gpu": False},
        None,
        ["nvidia_driver_source cuda needs nvidia_driver_cuda_key_fingerprint", "nvidia_driver_cuda_key_sha256",
         "/compute/cuda/repos/debian12/x86_64/"],
    ),
    "mok-key-without-certificate": (
        {"nvidia_driver_mok_key_file": "/var/lib/dkms/mok.key"},
        None,
        ["nvidia_driver_mok_key_file and nvidia_driver_mok_cert_file both set or both empty"],
    ),
    # The argument specs refuse these first, each named.
    "unknown-source-and-module-flavour": (
        {"nvidia_driver_source": "runfile", "nvidia_driver_kernel_modules": "nouveau"},
        None,
        ["value of nvidia_driver_source must be one of: distribution, cuda, got: runfile",
         "value of nvidia_driver_kernel_modules must be one of: auto, open, proprietary, got: nouveau"],
    ),
    "fabric-manager-of-another-version": (
        {"nvidia_driver_fabric_manager_version": "535.999.99", "nvidia_driver_require_gpu": False},
        None,
        ["nvidia_driver_fabric_manager_version 535.999.99 is not the driver's version"],
    ),
    "mig-profile-the-gpu-model-does-not-have": (
        {"nvidia_driver_mig_profiles": {"0": ["3g.40gb", "1g.5gb"]}},
        H100,
        ["nvidia_driver_mig_profiles does not fit the GPUs of {host}: GPU 0 (NVIDIA H100 80GB HBM3): "
         "1g.5gb is not a MIG profile of this model; it has 1g.10gb, 1g.10gb+me, 1g.20gb, 2g.20gb, 3g.40gb, "
         "4g.40gb, 7g.80gb"],
    ),
    "mig-layout-larger-than-the-gpu": (
        {"nvidia_driver_mig_profiles": {"0": ["4g.40gb", "4g.40gb"]}},
        H100,
        ["nvidia_driver_mig_profiles does not fit", "2 x 4g.40gb, at most 1 fit"],
    ),
}

# The cases that name Debian 12's offer: checked only on Debian 12 (they run in the same batch everywhere).
DEBIAN12_CASES = {
    "branch-the-distribution-does-not-offer": (
        {"nvidia_driver_branch": "570", "nvidia_driver_require_gpu": False},
        None,
        ["nvidia_driver_branch 570 is not offered by distribution packages on Debian 12; it offers 535"],
    ),
    "blackwell-on-a-branch-too-old": (
        {},
        "blackwell",
        ["{host} has Blackwell GPUs, which need driver branch 570 or later; nvidia_driver_branch is 535"],
    ),
    "nvswitch-host-on-a-source-without-fabric-manager": (
        {},
        NVSWITCH,
        ["{host} needs Fabric Manager (its GPUs report an NVLink fabric), which nvidia_driver_source "
         "distribution does not offer on Debian: set nvidia_driver_source: cuda"],
    ),
}


def _write_report(directory: Path, architecture: str, name: str, device_id: str) -> str:
    text = H100.read_text(encoding="utf-8")
    text = text.replace("<product_architecture>Hopper</product_architecture>",
                        f"<product_architecture>{architecture}</product_architecture>")
    text = text.replace("NVIDIA H100 80GB HBM3", name).replace("233010DE", device_id + "10DE")
    path = directory / f"{architecture.lower()}.xml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("nvidia-driver")
    reports_dir = tmp_path_factory.mktemp("nvidia-reports")
    written = {key: _write_report(reports_dir, *gpu) for key, gpu in WRITTEN_REPORTS.items()}
    cases = {}
    for name, (role_vars, report, _needles) in {**CASES, **DEBIAN12_CASES}.items():
        if report is not None:
            role_vars = {**role_vars, "nvidia_driver_gpu_report": written.get(report) or str(report)}
        cases[name] = role_vars
    return run_cases(tmp_path, PLAY, cases)


@pytest.fixture(scope="module")
def debian12():
    release = Path("/etc/os-release").read_text(encoding="utf-8")
    if 'VERSION_ID="12"' not in release or "ID=debian" not in release:
        pytest.skip("the branch cases name Debian 12's offer; this machine is not Debian 12")


def _assert_refused(runs, case: str, needles: list[str]) -> None:
    # Failed, changed nothing, and no task after the preflight ran on the case's host. The role's folded messages
    # keep a line break where a template spans lines: the needles are compared with the whitespace collapsed.
    assert_case_fails_naming(runs[case], *(needle.replace("{host}", case) for needle in needles), not_reached=LATER,
                             collapse_whitespace=True)


@pytest.mark.parametrize("case", CASES)
def test_nvidia_driver_bad_input(runs, case):
    _assert_refused(runs, case, CASES[case][2])


@pytest.mark.parametrize("case", DEBIAN12_CASES)
def test_nvidia_driver_bad_input_on_debian12(runs, debian12, case):
    _assert_refused(runs, case, DEBIAN12_CASES[case][2])

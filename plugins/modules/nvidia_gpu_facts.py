# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: NVIDIA GPUs of a host from `nvidia-smi -q -x`."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_gpu_facts
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.3.0
short_description: Report the NVIDIA GPUs of a host, with compute capability and memory
description:
  - Runs C(nvidia-smi -q -x) and parses its XML report into a list of GPUs.
  - A host without C(nvidia-smi) (no driver) reports no GPUs and does not fail; C(state) says why.
  - Independently of the driver, lists the NVIDIA display and 3D controllers on the PCI bus (sysfs), with the
    architecture their device ID belongs to, so that a host can be planned for before any driver is installed.
  - Reports per GPU the persistence mode, ECC mode, retired pages and row remapping, and the loaded kernel module
    (version and open or proprietary flavour), so that a driver role can verify a host in one call.
  - The compute capability is read from the report when the driver gives it; otherwise it comes from
    C(nvidia-smi --query-gpu=compute_cap), else from the product architecture.
  - Lists the NVSwitch devices on the PCI bus and reports per GPU its NVLink fabric state (set by Fabric Manager on
    NVSwitch systems) and its MIG mode, so that Fabric Manager and MIG can be planned and verified from one call.
  - Needs only the Python standard library on the managed host. Changes nothing; supports check mode.
options:
  nvidia_smi:
    description: Name or path of the C(nvidia-smi) binary.
    type: str
    default: nvidia-smi
  report:
    description:
      - Path of a recorded C(nvidia-smi -q -x) report on the managed host to parse instead of running C(nvidia-smi),
        for planning a host from a saved report and for tests.
    type: path
    version_added: 0.4.0
  sysfs_root:
    description: Root of sysfs, where C(bus/pci/devices) and C(module/nvidia) are read.
    type: path
    default: /sys
    version_added: 0.4.0
  procfs_root:
    description: Root of procfs, where C(driver/nvidia/version) names the loaded kernel module.
    type: path
    default: /proc
    version_added: 0.4.0
attributes:
  check_mode:
    support: full
    description: Runs C(nvidia-smi), changes nothing.
"""

EXAMPLES = r"""
- name: Look for NVIDIA GPUs
  llm_infra.cluster.nvidia_gpu_facts:
  register: gpus

- name: Show the CUDA architectures to build for
  ansible.builtin.debug:
    msg: "{{ gpus.cuda_architectures }}"
"""

RETURN = r"""
gpus:
  description: One entry per GPU, in nvidia-smi's order (the CUDA_VISIBLE_DEVICES index).
  returned: always
  type: list
  elements: dict
  sample:
    - index: 0
      name: NVIDIA H100 80GB HBM3
      uuid: GPU-00000000-0000-0000-0000-000000000000
      pci_bus_id: "00000000:00:06.0"
      architecture: Hopper
      compute_capability: "9.0"
      memory_total_mib: 81559
      pci_device_id: "0x2330"
      persistence_mode: true
      ecc_mode: {current: Enabled, pending: Enabled}
      retired_pages: {single_bit: 0, double_bit: 0, pending: false}
      remapped_rows: {correctable: 0, uncorrectable: 0, pending: false, failure: false}
      fabric: {state: N/A, status: N/A}
      mig_mode: {current: Disabled, pending: Disabled}
driver_version:
  description: Driver version, empty without GPUs.
  returned: always
  type: str
cuda_version:
  description: Highest CUDA version the driver supports, empty without GPUs.
  returned: always
  type: str
state:
  description:
    - C(no_driver) (no C(nvidia-smi)), C(no_gpu_visible) (C(nvidia-smi) fails, e.g. "Failed to initialize NVML", or
      lists no GPU) or C(ok).
  returned: always
  type: str
  version_added: 0.4.0
nvidia_smi_error:
  description: What C(nvidia-smi) printed when it failed.
  returned: when state is no_gpu_visible because nvidia-smi failed
  type: str
problems:
  description:
    - One line per unhealthy GPU condition (ECC change pending, pages pending retirement, row remap failure or
      pending remap), each naming the GPU index and PCI bus ID. Empty when healthy.
  returned: always
  type: list
  elements: str
  version_added: 0.4.0
pci_gpus:
  description:
    - NVIDIA display and 3D controllers on the PCI bus, read from sysfs without the driver, with the architecture
      their PCI device ID belongs to (C(Unknown) when the ID is outside the known ranges).
  returned: always
  type: list
  elements: dict
  sample:
    - pci_bus_id: "0000:00:06.0"
      device_id: "0x2330"
      architecture: Hopper
  version_added: 0.4.0
fabric_problems:
  description:
    - One line per GPU whose NVLink fabric is not C(Completed) with status C(Success), naming the GPU and what it
      reports. Only meaningful on NVSwitch hosts, where Fabric Manager must have initialised the fabric.
  returned: always
  type: list
  elements: str
  version_added: 0.4.0
nvswitches:
  description:
    - NVIDIA NVSwitch devices on the PCI bus (NVIDIA bridges, PCI class 0x0680), read from sysfs. A host with any
      needs Fabric Manager before CUDA can use its GPUs.
  returned: always
  type: list
  elements: dict
  sample:
    - pci_bus_id: "0000:05:00.0"
      device_id: "0x22a3"
  version_added: 0.4.0
fabric_attached:
  description:
    - True when a GPU reports an NVLink fabric state other than C(N/A), that is, the driver sees it attached to an
      NVSwitch fabric (also from a recorded report, where the PCI bus is not the report's).
  returned: always
  type: bool
  version_added: 0.4.0
kernel_module:
  description:
    - The NVIDIA kernel module loaded now, with C(version) (empty when none is loaded) and C(flavour) (C(open),
      C(proprietary) or empty), from C(/proc/driver/nvidia/version).
  returned: always
  type: dict
  version_added: 0.4.0
cuda_architectures:
  description: Distinct CUDA architectures of the GPUs as CMake wants them (compute capability without the dot).
  returned: always
  type: list
  elements: str
  sample: ["90"]
"""

import os
import re
import shutil
import xml.etree.ElementTree as ET

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llm_infra.cluster.plugins.module_utils._nvidia_pci import (
    GPU_CLASSES,
    NVSWITCH_CLASS,
    nvidia_pci_devices,
)
from ansible_collections.llm_infra.cluster.plugins.module_utils._nvidia_pci import read_text as _read

# Used when neither the XML report nor --query-gpu gives the compute capability (older drivers).
ARCHITECTURE_CAPABILITY = {
    "Kepler": "3.5",
    "Maxwell": "5.0",
    "Pascal": "6.0",
    "Volta": "7.0",
    "Turing": "7.5",
    "Ampere": "8.0",
    "Ada Lovelace": "8.9",
    "Hopper": "9.0",
    "Blackwell": "10.0",
}


# PCI device ID ranges of NVIDIA GPU architectures (vendor 0x10de), from the device IDs NVIDIA publishes for each
# generation. Open kernel modules support every ID from 0x1e00 (Turing) on; Blackwell starts at 0x2900.
PCI_DEVICE_ARCHITECTURES = (
    (0x0FC0, 0x0FFF, "Kepler"),
    (0x1000, 0x103F, "Kepler"),
    (0x1180, 0x13BF, "Kepler"),
    (0x1340, 0x17FF, "Maxwell"),
    (0x15F0, 0x15FF, "Pascal"),
    (0x1B00, 0x1D7F, "Pascal"),
    (0x1D80, 0x1DFF, "Volta"),
    (0x1E00, 0x1FFF, "Turing"),
    (0x2080, 0x217F, "Ampere"),
    (0x2180, 0x21FF, "Turing"),
    (0x2200, 0x22FF, "Ampere"),
    (0x2300, 0x23FF, "Hopper"),
    (0x2400, 0x25FF, "Ampere"),
    (0x2600, 0x28FF, "Ada Lovelace"),
    (0x2900, 0x2FFF, "Blackwell"),
)
# Architectures in release order, for "before Turing" and "from Blackwell on" decisions.
ARCHITECTURE_ORDER = ["Kepler", "Maxwell", "Pascal", "Volta", "Turing", "Ampere", "Ada Lovelace", "Hopper", "Blackwell"]
# NVSwitch chips enumerate as NVIDIA bridges of the "other" subclass.


def pci_architecture(device_id):
    """'0x2330' or 0x2330 -> 'Hopper'; the last matching range wins (later, narrower entries refine earlier ones)."""
    value = int(device_id, 16) if isinstance(device_id, str) else int(device_id)
    found = "Unknown"
    for low, high, name in PCI_DEVICE_ARCHITECTURES:
        if low <= value <= high:
            found = name
    if value > PCI_DEVICE_ARCHITECTURES[-1][1]:
        found = "Blackwell or later"
    return found


def scan_pci(sysfs_root="/sys"):
    """NVIDIA display/3D controllers on the PCI bus, sorted by bus ID."""
    found = []
    for bus_id, device_id in nvidia_pci_devices(sysfs_root, GPU_CLASSES):
        try:
            architecture = pci_architecture(device_id)
        except ValueError:
            architecture = "Unknown"
        found.append({"pci_bus_id": bus_id, "device_id": device_id, "architecture": architecture})
    return found


def scan_nvswitches(sysfs_root="/sys"):
    """NVSwitch devices (NVIDIA, PCI class 0x0680) on the PCI bus, sorted by bus ID."""
    return [{"pci_bus_id": bus_id, "device_id": device_id} for bus_id, device_id in nvidia_pci_devices(sysfs_root, [NVSWITCH_CLASS])]


def kernel_module(procfs_root="/proc"):
    """Version and flavour of the loaded NVIDIA kernel module, from /proc/driver/nvidia/version."""
    text = _read(os.path.join(procfs_root, "driver", "nvidia", "version"))
    if not text:
        return {"version": "", "flavour": ""}
    first = text.splitlines()[0]
    match = re.search(r"Kernel Module(?: for [^ ]+)?\s+([0-9]+(?:\.[0-9]+)+)", first)
    flavour = "open" if "Open Kernel Module" in first else "proprietary"
    return {"version": match.group(1) if match else "", "flavour": flavour}


def _count(value):
    """'0' -> 0; 'N/A' or anything else -> 0."""
    return int(value) if value.isdigit() else 0


def _text(node, path, default=""):
    found = node.find(path)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def _mib(value):
    """'81559 MiB' -> 81559; anything else -> 0."""
    parts = value.split()
    if len(parts) == 2 and parts[1] == "MiB" and parts[0].isdigit():
        return int(parts[0])
    return 0


def parse_report(xml_text, query_capabilities=None):
    """Parse `nvidia-smi -q -x` output. `query_capabilities` lists compute capabilities by index, if known."""
    root = ET.fromstring(xml_text)
    gpus = []
    for index, gpu in enumerate(root.findall("gpu")):
        capability = _text(gpu, "compute_cap")
        if not capability and query_capabilities and index < len(query_capabilities):
            capability = query_capabilities[index]
        architecture = _text(gpu, "product_architecture")
        if not capability:
            capability = ARCHITECTURE_CAPABILITY.get(architecture, "")
        gpus.append(
            {
                # The report's order is the CUDA order (CUDA_VISIBLE_DEVICES index); minor_number is the device node.
                "index": index,
                "name": _text(gpu, "product_name"),
                "uuid": _text(gpu, "uuid"),
                "pci_bus_id": gpu.get("id", ""),
                "architecture": architecture,
                "compute_capability": capability,
                "memory_total_mib": _mib(_text(gpu, "fb_memory_usage/total")),
                "pci_device_id": _device_id(_text(gpu, "pci/pci_device_id")),
                "persistence_mode": _text(gpu, "persistence_mode") == "Enabled",
                "ecc_mode": {"current": _text(gpu, "ecc_mode/current_ecc", "N/A"), "pending": _text(gpu, "ecc_mode/pending_ecc", "N/A")},
                "retired_pages": {
                    "single_bit": _count(_text(gpu, "retired_pages/multiple_single_bit_retirement/retired_count")),
                    "double_bit": _count(_text(gpu, "retired_pages/double_bit_retirement/retired_count")),
                    "pending": _text(gpu, "retired_pages/pending_retirement") == "Yes",
                },
                "remapped_rows": {
                    "correctable": _count(_text(gpu, "remapped_rows/remapped_row_corr")),
                    "uncorrectable": _count(_text(gpu, "remapped_rows/remapped_row_unc")),
                    "pending": _text(gpu, "remapped_rows/remapped_row_pending") == "Yes",
                    "failure": _text(gpu, "remapped_rows/remapped_row_failure") == "Yes",
                },
                # Fabric Manager sets the state: Not Started, In Progress, Completed (N/A without NVSwitch).
                "fabric": {"state": _text(gpu, "fabric/state", "N/A"), "status": _text(gpu, "fabric/status", "N/A")},
                "mig_mode": {"current": _text(gpu, "mig_mode/current_mig", "N/A"), "pending": _text(gpu, "mig_mode/pending_mig", "N/A")},
            }
        )
    return {
        "gpus": gpus,
        "problems": health_problems(gpus),
        "driver_version": _text(root, "driver_version"),
        "cuda_version": _text(root, "cuda_version"),
        "cuda_architectures": cuda_architectures(gpus),
        "fabric_attached": any(g["fabric"]["state"] not in ("N/A", "") for g in gpus),
        "fabric_problems": fabric_problems(gpus),
    }


def fabric_problems(gpus):
    """One line per GPU whose NVSwitch fabric Fabric Manager has not brought up."""
    problems = []
    for gpu in gpus:
        fabric = gpu["fabric"]
        if fabric["state"] != "Completed" or fabric["status"] != "Success":
            problems.append("GPU %s (%s): NVLink fabric state %s, status %s (is nvidia-fabricmanager running at the driver's version?)"
                            % (gpu["index"], gpu["pci_bus_id"], fabric["state"], fabric["status"]))
    return problems


def _device_id(value):
    """'233010DE' (device then vendor, as nvidia-smi writes it) -> '0x2330'; anything else -> ''."""
    if re.match(r"^[0-9A-Fa-f]{8}$", value or ""):
        return "0x" + value[:4].lower()
    return ""


def health_problems(gpus):
    """One line per condition that makes a GPU unfit to serve until it is reset or serviced."""
    problems = []
    for gpu in gpus:
        where = "GPU %s (%s)" % (gpu["index"], gpu["pci_bus_id"])
        ecc = gpu["ecc_mode"]
        if ecc["pending"] not in ("N/A", ecc["current"]):
            problems.append("%s: ECC mode %s, %s pending until the GPU is reset" % (where, ecc["current"], ecc["pending"]))
        if gpu["retired_pages"]["pending"]:
            problems.append("%s: retired pages pending, the GPU needs a reset" % where)
        if gpu["remapped_rows"]["failure"]:
            problems.append("%s: row remapping failed, the GPU needs service" % where)
        if gpu["remapped_rows"]["pending"]:
            problems.append("%s: row remapping pending, the GPU needs a reset" % where)
    return problems


def cuda_architectures(gpus):
    """Distinct CMake CUDA architectures ('9.0' -> '90'), sorted numerically."""
    archs = {g["compute_capability"].replace(".", "") for g in gpus if g["compute_capability"]}
    return sorted(archs, key=lambda a: (len(a), a))


def main():
    module = AnsibleModule(
        argument_spec={
            "nvidia_smi": {"type": "str", "default": "nvidia-smi"},
            "report": {"type": "path"},
            "sysfs_root": {"type": "path", "default": "/sys"},
            "procfs_root": {"type": "path", "default": "/proc"},
        },
        supports_check_mode=True,
    )
    params = module.params
    host = {"pci_gpus": scan_pci(params["sysfs_root"]), "nvswitches": scan_nvswitches(params["sysfs_root"]),
            "kernel_module": kernel_module(params["procfs_root"])}
    empty = {"gpus": [], "problems": [], "driver_version": "", "cuda_version": "", "cuda_architectures": [],
             "fabric_attached": False, "fabric_problems": []}
    if params["report"]:
        try:
            with open(params["report"], encoding="utf-8") as handle:
                out = handle.read()
        except OSError as exc:
            module.fail_json(msg="cannot read the recorded report %s: %s" % (params["report"], exc))
        capabilities = None
        source = params["report"]
    else:
        binary = shutil.which(params["nvidia_smi"]) if "/" not in params["nvidia_smi"] else params["nvidia_smi"]
        if not binary or not os.path.exists(binary):
            module.exit_json(changed=False, state="no_driver", **dict(empty, **host))
        rc, out, err = module.run_command([binary, "-q", "-x"])
        if rc != 0:
            # Installed userspace without a usable device: no GPU, the module not loaded, or a version mismatch.
            module.exit_json(changed=False, state="no_gpu_visible", nvidia_smi_rc=rc, nvidia_smi_error=(err or out).strip(),
                             **dict(empty, **host))
        capabilities = None
        qrc, qout, _qerr = module.run_command([binary, "--query-gpu=compute_cap", "--format=csv,noheader"])
        if qrc == 0:
            capabilities = [line.strip() for line in qout.splitlines() if line.strip()]
        source = binary + " -q -x"
    try:
        result = parse_report(out, capabilities)
    except ET.ParseError as exc:
        module.fail_json(msg="cannot parse the output of %s: %s" % (source, exc))
    result.update(host)
    result["state"] = "ok" if result["gpus"] else "no_gpu_visible"
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

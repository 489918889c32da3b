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
  - A host without C(nvidia-smi) (no driver) reports no GPUs and does not fail.
  - The compute capability is read from the report when the driver gives it; otherwise it comes from
    C(nvidia-smi --query-gpu=compute_cap), else from the product architecture.
  - Needs only the Python standard library on the managed host. Changes nothing; supports check mode.
options:
  nvidia_smi:
    description: Name or path of the C(nvidia-smi) binary.
    type: str
    default: nvidia-smi
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
driver_version:
  description: Driver version, empty without GPUs.
  returned: always
  type: str
cuda_version:
  description: Highest CUDA version the driver supports, empty without GPUs.
  returned: always
  type: str
cuda_architectures:
  description: Distinct CUDA architectures of the GPUs as CMake wants them (compute capability without the dot).
  returned: always
  type: list
  elements: str
  sample: ["90"]
"""

import shutil
import xml.etree.ElementTree as ET

from ansible.module_utils.basic import AnsibleModule

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
            }
        )
    return {
        "gpus": gpus,
        "driver_version": _text(root, "driver_version"),
        "cuda_version": _text(root, "cuda_version"),
        "cuda_architectures": cuda_architectures(gpus),
    }


def cuda_architectures(gpus):
    """Distinct CMake CUDA architectures ('9.0' -> '90'), sorted numerically."""
    archs = {g["compute_capability"].replace(".", "") for g in gpus if g["compute_capability"]}
    return sorted(archs, key=lambda a: (len(a), a))


def main():
    module = AnsibleModule(argument_spec={"nvidia_smi": {"type": "str", "default": "nvidia-smi"}}, supports_check_mode=True)
    binary = shutil.which(module.params["nvidia_smi"]) if "/" not in module.params["nvidia_smi"] else module.params["nvidia_smi"]
    empty = {"gpus": [], "driver_version": "", "cuda_version": "", "cuda_architectures": []}
    if not binary:
        module.exit_json(changed=False, **empty)
    rc, out, err = module.run_command([binary, "-q", "-x"])
    if rc != 0:
        # A driver that is installed but has no device (or is not loaded) means no usable GPU.
        module.exit_json(changed=False, nvidia_smi_error=(err or out).strip(), **empty)
    capabilities = None
    qrc, qout, _qerr = module.run_command([binary, "--query-gpu=compute_cap", "--format=csv,noheader"])
    if qrc == 0:
        capabilities = [line.strip() for line in qout.splitlines() if line.strip()]
    try:
        result = parse_report(out, capabilities)
    except ET.ParseError as exc:
        module.fail_json(msg="cannot parse the output of %s -q -x: %s" % (binary, exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: the MIG layout of a host's NVIDIA GPUs."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_mig
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.4.0
short_description: Set the MIG (Multi-Instance GPU) layout of NVIDIA GPUs
description:
  - Reads the current layout with C(nvidia-smi -q -x), C(nvidia-smi mig -lgi) and C(nvidia-smi mig -lci), compares it
    with O(profiles) and changes only the GPUs whose layout differs. GPUs not named in O(profiles) are left alone.
  - A GPU whose GPU instances differ from the wanted ones is rebuilt as a whole (its instances destroyed, the wanted
    ones created largest first, each with one compute instance spanning it), because placements on a partly used GPU
    may not fit; a GPU whose instances match is not touched, even while processes run on it.
  - Refuses to change a GPU while processes use it, naming them, before anything is changed.
  - Wanted profiles are checked against the GPU model (by PCI device ID) before any change. A MIG mode change that
    waits for a GPU reset fails with what to do.
  - Returns the MIG devices with their UUIDs, which serving roles put in C(CUDA_VISIBLE_DEVICES).
  - The same logic runs at boot from the C(llm-infra-nvidia-mig) service of the nvidia_driver role, since GPU
    instances do not survive a reboot.
options:
  profiles:
    description:
      - GPU index (as in C(nvidia-smi)) to the list of GPU instance profiles it should have, for example GPU C(0)
        with C([3g.40gb, 2g.20gb, 2g.20gb]). An empty list disables MIG on that GPU.
    type: dict
    required: true
  nvidia_smi:
    description: Name or path of the C(nvidia-smi) binary.
    type: str
    default: nvidia-smi
  validate_only:
    description:
      - Only check O(profiles) against the GPU models and report C(problems); change nothing and do not fail on them.
      - Reads the GPUs from O(report), else from C(nvidia-smi), else from the PCI bus (no driver needed).
    type: bool
    default: false
  report:
    description: Path of a recorded C(nvidia-smi -q -x) report to validate against (with O(validate_only)).
    type: path
  sysfs_root:
    description: Root of sysfs, where the PCI bus is read when neither a report nor C(nvidia-smi) is available.
    type: path
    default: /sys
attributes:
  check_mode:
    support: full
    description: Reads the layout and returns the plan and the commands it would run.
"""

EXAMPLES = r"""
- name: Two 3g.40gb instances on GPU 0, MIG off on GPU 1
  llm_infra.cluster.nvidia_mig:
    profiles:
      "0": [3g.40gb, 3g.40gb]
      "1": []
  register: mig

- name: Show the MIG UUIDs for CUDA_VISIBLE_DEVICES
  ansible.builtin.debug:
    msg: "{{ mig.mig_devices | map(attribute='uuid') | list }}"
"""

RETURN = r"""
plan:
  description: One entry per GPU that changes, with its actions and the reason.
  returned: always
  type: list
  elements: dict
  sample:
    - gpu: 0
      reason: layout 2g.20gb + 3g.40gb, wanted 3g.40gb + 3g.40gb
      actions: [{do: destroy_compute_instances}, {do: destroy_gpu_instances}, {do: create, profiles: [3g.40gb, 3g.40gb]}]
commands:
  description: The C(nvidia-smi) argument lists run (in check mode, those it would run, profiles by name).
  returned: always
  type: list
  elements: list
gpus:
  description: Per GPU its index, name, UUID, MIG mode and GPU instance profiles after the run.
  returned: unless validate_only
  type: list
  elements: dict
mig_devices:
  description: The MIG devices after the run, with GPU index, GPU instance ID, profile and MIG UUID.
  returned: unless validate_only
  type: list
  elements: dict
  sample:
    - gpu: 0
      gpu_uuid: GPU-00000000-0000-0000-0000-000000000000
      gpu_instance_id: 1
      compute_instance_id: 0
      profile: 3g.40gb
      uuid: MIG-11111111-1111-5111-8111-111111111111
problems:
  description: With O(validate_only), one line per profile that does not fit the GPU model. Empty when it fits.
  returned: always
  type: list
  elements: str
supported_profiles:
  description: With O(validate_only), per GPU index the MIG profiles of its model (empty for models without MIG).
  returned: when validate_only
  type: dict
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llm_infra.cluster.plugins.module_utils._nvidia_pci import GPU_CLASSES, nvidia_pci_devices
from ansible_collections.llm_infra.cluster.plugins.module_utils._nvidia_mig import (
    MigError,
    NvidiaSmi,
    converge,
    model_of,
    parse_gpus,
    validate,
)


def pci_gpus(sysfs_root):
    """NVIDIA 3D/display controllers on the PCI bus in bus order (nvidia-smi's default order), as validate() wants them."""
    return [{"index": index, "name": "", "uuid": "", "pci_bus_id": bus_id, "device_id": device_id,
             "mig_mode": {"current": "N/A", "pending": "N/A"}, "mig_devices": [], "processes": []}
            for index, (bus_id, device_id) in enumerate(nvidia_pci_devices(sysfs_root, GPU_CLASSES))]


def _validate_only(module, smi_binary):
    params = module.params
    text = None
    if params["report"]:
        try:
            with open(params["report"], encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            module.fail_json(msg="cannot read the recorded report %s: %s" % (params["report"], exc))
    elif smi_binary:
        rc, out, _err = module.run_command([smi_binary, "-q", "-x"])
        text = out if rc == 0 else None
    gpus = parse_gpus(text) if text else pci_gpus(params["sysfs_root"])
    layout = {str(k): v for k, v in params["profiles"].items()}
    supported = {str(g["index"]): list((model_of(g) or {}).get("profiles", {})) for g in gpus}
    module.exit_json(changed=False, plan=[], commands=[], problems=validate(gpus, layout), supported_profiles=supported)


def main():
    module = AnsibleModule(
        argument_spec={
            "profiles": {"type": "dict", "required": True},
            "nvidia_smi": {"type": "str", "default": "nvidia-smi"},
            "validate_only": {"type": "bool", "default": False},
            "report": {"type": "path"},
            "sysfs_root": {"type": "path", "default": "/sys"},
        },
        supports_check_mode=True,
    )
    params = module.params
    binary = shutil.which(params["nvidia_smi"]) if "/" not in params["nvidia_smi"] else params["nvidia_smi"]
    if binary and not os.path.exists(binary):
        binary = None
    if params["validate_only"]:
        _validate_only(module, binary)
    if not params["profiles"]:
        module.exit_json(changed=False, plan=[], commands=[], problems=[], gpus=[], mig_devices=[])
    if not binary:
        module.fail_json(msg="nvidia-smi (%s) is not installed: the driver must be in place before a MIG layout" % params["nvidia_smi"])

    def runner(argv):
        return module.run_command(argv)

    try:
        result = converge(NvidiaSmi(binary, runner), params["profiles"], check_mode=module.check_mode)
    except MigError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(problems=[], **result)


if __name__ == "__main__":
    main()

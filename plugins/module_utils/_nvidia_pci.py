# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""NVIDIA devices on the PCI bus, read from sysfs: what the GPU modules know of a host before (or without) a
loaded driver."""

from __future__ import annotations

import os

NVIDIA_VENDOR = "0x10de"
# PCI classes: VGA and 3D controllers (GPUs), and the bridge class NVSwitch chips report.
GPU_CLASSES = ("0x0300", "0x0302")
NVSWITCH_CLASS = "0x0680"


def read_text(path):
    """A sysfs/procfs file's stripped text, or "" when it cannot be read."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def nvidia_pci_devices(sysfs_root, classes):
    """(PCI bus ID, device ID) of the NVIDIA devices whose class starts with one of `classes`, in bus order
    (nvidia-smi's default order); empty when sysfs cannot be read."""
    devices_dir = os.path.join(sysfs_root, "bus", "pci", "devices")
    try:
        names = sorted(os.listdir(devices_dir))
    except OSError:
        return []
    found = []
    for name in names:
        device = os.path.join(devices_dir, name)
        if read_text(os.path.join(device, "vendor")).lower() != NVIDIA_VENDOR:
            continue
        if not read_text(os.path.join(device, "class")).lower().startswith(tuple(classes)):
            continue
        found.append((name, read_text(os.path.join(device, "device")).lower()))
    return found

# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""MIG layouts of NVIDIA GPUs: read the current one from nvidia-smi, plan the change to the wanted one, apply it.

Shared by the nvidia_mig module and the boot-time service that re-applies the layout (GPU instances do not survive a
reboot or a driver reload; the MIG mode itself does). Standard library only: the same file runs as a script.

A layout maps a GPU index to the GPU instance profiles it should have ("3g.40gb", ...), each GPU instance with one
compute instance spanning it. An empty list means MIG disabled; a GPU not named is left alone.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

# MIG profiles per GPU model, by PCI device ID, from NVIDIA's MIG user guide: name -> (compute slices, memory
# slices, most instances of it on one GPU). The totals are the GPU's slices.
_SLICES_8 = {"compute": 7, "memory": 8}


def _seven_slice_profiles(small, large, full):
    """The profile family of the 7-slice GPUs: 1g.<small>, 1g.<small>+me, 1g.<large>, 2g.<large>, 3g, 4g, 7g."""
    return {
        "1g.%sgb" % small: (1, 1, 7),
        "1g.%sgb+me" % small: (1, 1, 1),
        "1g.%sgb" % large: (1, 2, 4),
        "2g.%sgb" % large: (2, 2, 3),
        "3g.%sgb" % full[0]: (3, 4, 2),
        "4g.%sgb" % full[0]: (4, 4, 1),
        "7g.%sgb" % full[1]: (7, 8, 1),
    }


_A100_40 = dict(_SLICES_8, model="A100 40GB", profiles=_seven_slice_profiles(5, 10, (20, 40)))
_A100_80 = dict(_SLICES_8, model="A100 80GB / H100 80GB", profiles=_seven_slice_profiles(10, 20, (40, 80)))
_H100_94 = dict(_SLICES_8, model="H100 NVL 94GB", profiles=_seven_slice_profiles(12, 24, (47, 94)))
_H200 = dict(_SLICES_8, model="H200 141GB", profiles=_seven_slice_profiles(18, 35, (71, 141)))
_B200 = dict(_SLICES_8, model="B200 180GB", profiles=_seven_slice_profiles(23, 45, (90, 180)))
_A30 = {"compute": 4, "memory": 4, "model": "A30 24GB", "profiles": {
    "1g.6gb": (1, 1, 4), "1g.6gb+me": (1, 1, 1), "2g.12gb": (2, 2, 2), "2g.12gb+me": (2, 2, 1), "4g.24gb": (4, 4, 1)}}

MIG_MODELS = {
    "0x20b0": _A100_40,   # A100-SXM4-40GB
    "0x20f1": _A100_40,   # A100-PCIE-40GB
    "0x20b2": _A100_80,   # A100-SXM4-80GB
    "0x20b5": _A100_80,   # A100 80GB PCIe
    "0x2330": _A100_80,   # H100 80GB HBM3 (SXM5)
    "0x2331": _A100_80,   # H100 PCIe
    "0x2321": _H100_94,   # H100 NVL
    "0x2335": _H200,      # H200 (SXM)
    "0x2901": _B200,      # B200
    "0x20b7": _A30,       # A30
}

NOT_FOUND = re.compile(r"No (GPU|compute) instances found|No MIG-enabled devices found|Not Found", re.IGNORECASE)


class MigError(Exception):
    """A layout that cannot be applied, or nvidia-smi refusing a command."""


def _text(node, path, default=""):
    found = node.find(path)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def _device_id(value):
    if re.match(r"^[0-9A-Fa-f]{8}$", value or ""):
        return "0x" + value[:4].lower()
    return ""


def parse_gpus(xml_text):
    """GPUs of `nvidia-smi -q -x`: index, name, UUID, device ID, MIG mode, MIG devices and the processes on each."""
    root = ET.fromstring(xml_text)
    gpus = []
    for index, gpu in enumerate(root.findall("gpu")):
        processes = []
        for proc in gpu.findall("processes/process_info"):
            processes.append({
                "pid": int(_text(proc, "pid", "0") or 0),
                "name": _text(proc, "process_name"),
                "gpu_instance_id": _text(proc, "gpu_instance_id", "N/A"),
            })
        devices = []
        for dev in gpu.findall("mig_devices/mig_device"):
            devices.append({
                "index": int(_text(dev, "index", "0")),
                "gpu_instance_id": int(_text(dev, "gpu_instance_id", "0")),
                "compute_instance_id": int(_text(dev, "compute_instance_id", "0")),
            })
        gpus.append({
            "index": index,
            "name": _text(gpu, "product_name"),
            "uuid": _text(gpu, "uuid"),
            "pci_bus_id": gpu.get("id", ""),
            "device_id": _device_id(_text(gpu, "pci/pci_device_id")),
            "mig_mode": {"current": _text(gpu, "mig_mode/current_mig", "N/A"), "pending": _text(gpu, "mig_mode/pending_mig", "N/A")},
            "mig_devices": devices,
            "processes": processes,
        })
    return gpus


_LGIP = re.compile(r"^\|\s+(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)/(\d+)\s+")
_LGI = re.compile(r"^\|\s+(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+):(\d+)\s+\|")
_LCI = re.compile(r"^\|\s+(\d+)\s+(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+):(\d+)\s+\|")
_LIST = re.compile(r"^\s*(GPU (\d+):|MIG (\S+)\s+Device\s+(\d+):).*\(UUID: ([^)]+)\)")


def parse_profiles(text):
    """`nvidia-smi mig -lgip`: {gpu: {profile name: {"id", "free", "total"}}}."""
    found = {}
    for line in text.splitlines():
        match = _LGIP.match(line)
        if match:
            gpu, name, pid, free, total = match.groups()
            found.setdefault(int(gpu), {})[name] = {"id": int(pid), "free": int(free), "total": int(total)}
    return found


def parse_gpu_instances(text):
    """`nvidia-smi mig -lgi`: {gpu: [{"id", "profile", "profile_id", "placement"}]}, sorted by instance ID."""
    found = {}
    for line in text.splitlines():
        match = _LGI.match(line)
        if match:
            gpu, name, pid, gid, start, size = match.groups()
            found.setdefault(int(gpu), []).append(
                {"id": int(gid), "profile": name, "profile_id": int(pid), "placement": "%s:%s" % (start, size)})
    return {gpu: sorted(items, key=lambda item: item["id"]) for gpu, items in found.items()}


def parse_compute_instances(text):
    """`nvidia-smi mig -lci`: {gpu: {gpu instance ID: [compute instance IDs]}}."""
    found = {}
    for line in text.splitlines():
        match = _LCI.match(line)
        if match:
            gpu, gid, _name, _pid, cid = (match.group(i) for i in range(1, 6))
            found.setdefault(int(gpu), {}).setdefault(int(gid), []).append(int(cid))
    return found


def parse_uuids(text):
    """`nvidia-smi -L`: {gpu index: {"uuid", "mig": {MIG device index: uuid}}}."""
    found = {}
    current = None
    for line in text.splitlines():
        match = _LIST.match(line)
        if not match:
            continue
        if match.group(2) is not None:
            current = int(match.group(2))
            found[current] = {"uuid": match.group(5), "mig": {}}
        elif current is not None:
            found[current]["mig"][int(match.group(4))] = match.group(5)
    return found


def model_of(gpu):
    return MIG_MODELS.get(gpu.get("device_id", ""))


def validate(gpus, layout):
    """Problems of a wanted layout against the GPUs' models, one line each; empty when it fits."""
    problems = []
    by_index = {gpu["index"]: gpu for gpu in gpus}
    for key, wanted in sorted(layout.items(), key=lambda item: str(item[0])):
        if not re.match(r"^[0-9]+$", str(key)):
            problems.append("%s: not a GPU index" % key)
            continue
        gpu = by_index.get(int(key))
        if gpu is None:
            problems.append("GPU %s: no such GPU (the host has %d)" % (key, len(gpus)))
            continue
        if not isinstance(wanted, list):
            problems.append("GPU %s: the profiles must be a list" % key)
            continue
        if not wanted:
            continue
        where = "GPU %s (%s)" % (key, gpu["name"] or gpu["device_id"] or "unknown model")
        model = model_of(gpu)
        if model is None:
            problems.append("%s: no MIG profiles known for this model (PCI device %s); MIG runs on A30, A100, H100, H200 and B200"
                            % (where, gpu["device_id"] or "unknown"))
            continue
        profiles = model["profiles"]
        unknown = [name for name in wanted if name not in profiles]
        if unknown:
            problems.append("%s: %s not a MIG profile of this model; it has %s"
                            % (where, ", ".join(unknown) + (" is" if len(unknown) == 1 else " are"), ", ".join(profiles)))
            continue
        for name in sorted(set(wanted)):
            if wanted.count(name) > profiles[name][2]:
                problems.append("%s: %d x %s, at most %d fit" % (where, wanted.count(name), name, profiles[name][2]))
        compute = sum(profiles[name][0] for name in wanted)
        memory = sum(profiles[name][1] for name in wanted)
        if compute > model["compute"] or memory > model["memory"]:
            problems.append("%s: %s take %d compute and %d memory slices, the GPU has %d and %d"
                            % (where, " + ".join(wanted), compute, memory, model["compute"], model["memory"]))
    return problems


def _size(gpu, name):
    model = model_of(gpu)
    if model and name in model["profiles"]:
        return model["profiles"][name][:2]
    digits = re.match(r"^(\d+)g\.(\d+)gb", name)
    return (int(digits.group(1)), int(digits.group(2))) if digits else (0, 0)


def plan(gpus, layout, instances, compute):
    """Commands per GPU that turn the current layout into the wanted one; GPUs that already match get none.

    A GPU whose GPU instances differ from the wanted ones (as a multiset of profiles) is rebuilt as a whole: its
    instances are destroyed and the wanted ones created largest first, which always finds a placement for a layout
    that fits. A GPU whose instances match but lack their compute instance only gets those.
    Returns a list of {"gpu", "actions": [{"do", "args"}], "reason"}.
    """
    steps = []
    by_index = {gpu["index"]: gpu for gpu in gpus}
    for key in sorted(layout, key=int):
        index = int(key)
        gpu = by_index[index]
        wanted = list(layout[key])
        mode = gpu["mig_mode"]
        current = instances.get(index, [])
        actions = []
        reason = ""
        if not wanted:
            if current:
                actions += [{"do": "destroy_compute_instances"}, {"do": "destroy_gpu_instances"}]
            # The pending mode is the one asked for last; it becomes current when the GPU is reset.
            if mode["pending"] == "Enabled" or (mode["pending"] == "N/A" and mode["current"] == "Enabled"):
                actions.append({"do": "disable_mig"})
            reason = "MIG disabled" if actions else ""
        else:
            enable = mode["current"] != "Enabled"
            if enable:
                actions.append({"do": "enable_mig"})
            if enable or sorted(i["profile"] for i in current) != sorted(wanted):
                if current:
                    actions += [{"do": "destroy_compute_instances"}, {"do": "destroy_gpu_instances"}]
                order = sorted(wanted, key=lambda name: _size(gpu, name), reverse=True)
                actions.append({"do": "create", "profiles": order})
                reason = "layout %s, wanted %s" % (" + ".join(sorted(i["profile"] for i in current)) or "empty", " + ".join(order))
            else:
                bare = [i["id"] for i in current if not compute.get(index, {}).get(i["id"])]
                if bare:
                    actions.append({"do": "create_compute_instances", "gpu_instances": bare})
                    reason = "GPU instances %s have no compute instance" % ", ".join(map(str, bare))
        if actions:
            steps.append({"gpu": index, "actions": actions, "reason": reason})
    return steps


def busy(gpus, steps):
    """Processes on the GPUs the plan would change: one line per GPU."""
    lines = []
    by_index = {gpu["index"]: gpu for gpu in gpus}
    for step in steps:
        gpu = by_index[step["gpu"]]
        if gpu["processes"]:
            lines.append("GPU %d (%s): %s" % (step["gpu"], gpu["pci_bus_id"], ", ".join(
                "%s (pid %d)" % (p["name"] or "?", p["pid"]) for p in gpu["processes"])))
    return lines


def commands(step, profile_ids):
    """The nvidia-smi argument lists of one GPU's step; profile_ids maps profile name to ID on that GPU."""
    index = str(step["gpu"])
    out = []
    for action in step["actions"]:
        kind = action["do"]
        if kind == "enable_mig":
            out.append(["-i", index, "-mig", "1"])
        elif kind == "disable_mig":
            out.append(["-i", index, "-mig", "0"])
        elif kind == "destroy_compute_instances":
            out.append(["mig", "-i", index, "-dci"])
        elif kind == "destroy_gpu_instances":
            out.append(["mig", "-i", index, "-dgi"])
        elif kind == "create":
            ids = []
            for name in action["profiles"]:
                if name not in profile_ids:
                    raise MigError("GPU %s offers no MIG profile %s (nvidia-smi mig -lgip lists %s)"
                                   % (index, name, ", ".join(sorted(profile_ids)) or "none"))
                ids.append(str(profile_ids[name]))
            out.append(["mig", "-i", index, "-cgi", ",".join(ids), "-C"])
        elif kind == "create_compute_instances":
            for gid in action["gpu_instances"]:
                out.append(["mig", "-i", index, "-gi", str(gid), "-cci"])
    return out


def mig_devices(gpus, instances, uuids):
    """The MIG devices serving roles address: GPU index, GPU instance, profile and the MIG UUID (CUDA_VISIBLE_DEVICES)."""
    found = []
    for gpu in gpus:
        profile_of = {i["id"]: i["profile"] for i in instances.get(gpu["index"], [])}
        names = uuids.get(gpu["index"], {}).get("mig", {})
        for dev in gpu["mig_devices"]:
            found.append({
                "gpu": gpu["index"],
                "gpu_uuid": gpu["uuid"],
                "gpu_instance_id": dev["gpu_instance_id"],
                "compute_instance_id": dev["compute_instance_id"],
                "profile": profile_of.get(dev["gpu_instance_id"], ""),
                "uuid": names.get(dev["index"], ""),
            })
    return found


class NvidiaSmi:
    """Runs nvidia-smi; `run(args)` returns (rc, stdout, stderr). Replaced by a recorder in tests."""

    def __init__(self, binary="nvidia-smi", runner=None):
        self.binary = binary
        self.runner = runner

    def run(self, args):
        if self.runner is not None:
            return self.runner([self.binary] + list(args))
        proc = subprocess.run([self.binary] + list(args), capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def listing(self, args):
        rc, out, err = self.run(args)
        if rc != 0 and not NOT_FOUND.search(out + err):
            raise MigError("nvidia-smi %s failed (rc %d): %s" % (" ".join(args), rc, (err or out).strip()))
        return out if rc == 0 else ""

    def read(self):
        rc, out, err = self.run(["-q", "-x"])
        if rc != 0:
            raise MigError("nvidia-smi -q -x failed (rc %d): %s" % (rc, (err or out).strip()))
        gpus = parse_gpus(out)
        enabled = any(g["mig_mode"]["current"] == "Enabled" for g in gpus)
        instances = parse_gpu_instances(self.listing(["mig", "-lgi"])) if enabled else {}
        compute = parse_compute_instances(self.listing(["mig", "-lci"])) if enabled else {}
        return gpus, instances, compute


def converge(smi, layout, check_mode=False, allow_busy=False):
    """Read, plan and (unless check_mode) apply a layout. Returns a result dict; raises MigError on a refusal."""
    layout = {str(k): v for k, v in layout.items()}
    gpus, instances, compute = smi.read()
    problems = validate(gpus, layout)
    if problems:
        raise MigError("; ".join(problems))
    steps = plan(gpus, layout, instances, compute)
    users = busy(gpus, steps)
    if users and not allow_busy:
        raise MigError("the MIG layout of these GPUs differs from the wanted one, but processes use them: %s. "
                       "Stop the serving instances on them first; nothing was changed." % "; ".join(users))
    ran = []
    pending = []
    if steps and not check_mode:
        for step in steps:
            for args in commands(dict(step, actions=[a for a in step["actions"] if a["do"] != "create"]), {}):
                _apply(smi, args, ran)
            if any(a["do"] in ("enable_mig", "disable_mig") for a in step["actions"]):
                mode = {g["index"]: g for g in smi.read()[0]}[step["gpu"]]["mig_mode"]
                if mode["current"] != mode["pending"]:
                    pending.append(step["gpu"])
                    continue
            creates = [a for a in step["actions"] if a["do"] == "create"]
            if creates:
                listed = parse_profiles(smi.listing(["mig", "-i", str(step["gpu"]), "-lgip"])).get(step["gpu"], {})
                for args in commands(dict(step, actions=creates), {name: info["id"] for name, info in listed.items()}):
                    _apply(smi, args, ran)
        gpus, instances, compute = smi.read()
    if pending:
        raise MigError("the MIG mode change of GPU %s is pending until the GPU is reset: reboot the host (or run "
                       "nvidia-smi -r -i N while nothing uses it) and run again; the layout is created then"
                       % ", ".join(map(str, pending)))
    uuids = {}
    if any(g["mig_mode"]["current"] == "Enabled" for g in gpus):
        uuids = parse_uuids(smi.listing(["-L"]))
    return {
        "changed": bool(steps),
        "plan": steps,
        "commands": ran if not check_mode else preview(steps),
        "gpus": [{"index": g["index"], "name": g["name"], "uuid": g["uuid"], "mig_mode": g["mig_mode"],
                  "gpu_instances": [i["profile"] for i in instances.get(g["index"], [])]} for g in gpus],
        "mig_devices": mig_devices(gpus, instances, uuids),
    }


def preview(steps):
    """The commands a plan would run, profiles by name (their IDs are read from the GPU when it is applied)."""
    return [args for step in steps for args in commands(step, {name: name for a in step["actions"] for name in a.get("profiles", [])})]


def _apply(smi, args, ran):
    rc, out, err = smi.run(args)
    ran.append(args)
    if rc != 0:
        raise MigError("nvidia-smi %s failed (rc %d): %s" % (" ".join(args), rc, (err or out).strip()))


def main(argv=None):
    """Boot-time use: `_nvidia_mig.py apply LAYOUT.json [nvidia-smi]` applies the recorded layout before serving starts."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] != "apply":
        sys.stderr.write("usage: llm-infra-nvidia-mig apply LAYOUT.json [NVIDIA_SMI]\n")
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        layout = json.load(handle)
    try:
        result = converge(NvidiaSmi(argv[2] if len(argv) > 2 else "nvidia-smi"), layout)
    except MigError as exc:
        sys.stderr.write("llm-infra-nvidia-mig: %s\n" % exc)
        return 1
    for step in result["plan"]:
        sys.stdout.write("GPU %d: %s\n" % (step["gpu"], step["reason"] or "changed"))
    for dev in result["mig_devices"]:
        sys.stdout.write("GPU %d instance %d %s %s\n" % (dev["gpu"], dev["gpu_instance_id"], dev["profile"], dev["uuid"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

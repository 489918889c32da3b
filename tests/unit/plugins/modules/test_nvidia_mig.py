"""Unit tests of the MIG layout logic (plugins/module_utils/_nvidia_mig.py) and the nvidia_mig module.

The parsers read recorded `nvidia-smi mig -lgip`/`-lgi`/`-lci`/`-L` output and `nvidia-smi -q -x` reports of an H100
with MIG on (tests/unit/fixtures). The converge tests answer nvidia-smi's commands from that recorded state and
change the state as the real commands would, so that read, plan, refusal, apply and check mode are exercised end to end.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from ansible_collections.llm_infra.cluster.plugins.module_utils import _nvidia_mig as mig
from ansible_collections.llm_infra.cluster.plugins.modules import nvidia_mig

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


def _fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def _idle_report():
    """The MIG report without the llama-server process."""
    report = _fixture("nvidia-smi-q-x-h100-mig.xml")
    start, end = report.index("<processes>"), report.index("</processes>")
    return report[:start] + "<processes>\n\t\t" + report[end:]


# --- Parsers, against the recorded output ---


def test_parse_gpus_of_the_mig_report():
    gpu = mig.parse_gpus(_fixture("nvidia-smi-q-x-h100-mig.xml"))[0]
    assert gpu["device_id"] == "0x2330" and gpu["name"] == "NVIDIA H100 80GB HBM3"
    assert gpu["mig_mode"] == {"current": "Enabled", "pending": "Enabled"}
    assert gpu["mig_devices"] == [{"index": 0, "gpu_instance_id": 2, "compute_instance_id": 0},
                                  {"index": 1, "gpu_instance_id": 3, "compute_instance_id": 0}]
    assert gpu["processes"] == [{"pid": 4242, "name": "/opt/llama.cpp/current/bin/llama-server", "gpu_instance_id": "2"}]


def test_parse_gpus_without_mig():
    gpu = mig.parse_gpus(_fixture("nvidia-smi-q-x-h100.xml"))[0]
    assert gpu["mig_mode"] == {"current": "Disabled", "pending": "Disabled"}
    assert gpu["mig_devices"] == [] and gpu["processes"] == []


def test_parse_profiles():
    profiles = mig.parse_profiles(_fixture("nvidia-smi-mig-lgip-h100.txt"))[0]
    assert {name: p["id"] for name, p in profiles.items()} == {
        "1g.10gb": 19, "1g.10gb+me": 20, "1g.20gb": 15, "2g.20gb": 14, "3g.40gb": 9, "4g.40gb": 5, "7g.80gb": 0}
    assert profiles["3g.40gb"] == {"id": 9, "free": 0, "total": 2}


def test_parse_gpu_and_compute_instances():
    assert mig.parse_gpu_instances(_fixture("nvidia-smi-mig-lgi-h100.txt")) == {0: [
        {"id": 2, "profile": "3g.40gb", "profile_id": 9, "placement": "4:4"},
        {"id": 3, "profile": "2g.20gb", "profile_id": 14, "placement": "0:2"}]}
    assert mig.parse_compute_instances(_fixture("nvidia-smi-mig-lci-h100.txt")) == {0: {2: [0], 3: [0]}}


def test_parse_uuids_and_mig_devices():
    uuids = mig.parse_uuids(_fixture("nvidia-smi-L-h100-mig.txt"))
    assert uuids == {0: {"uuid": "GPU-00000000-0000-0000-0000-000000000000",
                         "mig": {0: "MIG-11111111-1111-5111-8111-111111111111", 1: "MIG-22222222-2222-5222-8222-222222222222"}}}
    gpus = mig.parse_gpus(_fixture("nvidia-smi-q-x-h100-mig.xml"))
    devices = mig.mig_devices(gpus, mig.parse_gpu_instances(_fixture("nvidia-smi-mig-lgi-h100.txt")), uuids)
    assert [(d["gpu_instance_id"], d["profile"], d["uuid"]) for d in devices] == [
        (2, "3g.40gb", "MIG-11111111-1111-5111-8111-111111111111"), (3, "2g.20gb", "MIG-22222222-2222-5222-8222-222222222222")]


# --- Validation against the GPU model ---


def _h100():
    return mig.parse_gpus(_fixture("nvidia-smi-q-x-h100.xml"))


@pytest.mark.parametrize("layout, expected", [
    ({"0": ["3g.40gb", "2g.20gb", "2g.20gb"]}, []),
    ({"0": ["1g.10gb"] * 7}, []),
    ({"0": []}, []),
    ({"0": ["1g.5gb"]}, ["GPU 0 (NVIDIA H100 80GB HBM3): 1g.5gb is not a MIG profile of this model; it has "
                         "1g.10gb, 1g.10gb+me, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb"]),
    ({"0": ["3g.40gb"] * 3}, ["GPU 0 (NVIDIA H100 80GB HBM3): 3 x 3g.40gb, at most 2 fit",
                              "GPU 0 (NVIDIA H100 80GB HBM3): 3g.40gb + 3g.40gb + 3g.40gb take 9 compute and 12 memory slices, "
                              "the GPU has 7 and 8"]),
    ({"0": ["4g.40gb", "3g.40gb", "1g.10gb"]}, ["GPU 0 (NVIDIA H100 80GB HBM3): 4g.40gb + 3g.40gb + 1g.10gb take 8 compute "
                                                "and 9 memory slices, the GPU has 7 and 8"]),
    ({"1": ["7g.80gb"]}, ["GPU 1: no such GPU (the host has 1)"]),
])
def test_validate_on_an_h100(layout, expected):
    assert mig.validate(_h100(), layout) == expected


def test_validate_models_without_mig_and_other_models():
    l4 = mig.parse_gpus(_fixture("nvidia-smi-q-x-h100.xml").replace("233010DE", "27B810DE").replace("NVIDIA H100 80GB HBM3", "NVIDIA L4"))
    assert mig.validate(l4, {"0": ["1g.10gb"]}) == [
        "GPU 0 (NVIDIA L4): no MIG profiles known for this model (PCI device 0x27b8); MIG runs on A30, A100, H100, H200 and B200"]
    assert mig.validate(l4, {"0": []}) == []
    h200 = mig.parse_gpus(_fixture("nvidia-smi-q-x-h100.xml").replace("233010DE", "233510DE"))
    assert mig.validate(h200, {"0": ["3g.71gb", "3g.71gb"]}) == []
    assert mig.validate(h200, {"0": ["3g.40gb"]})[0].startswith("GPU 0 (NVIDIA H100 80GB HBM3): 3g.40gb is not a MIG profile")
    a30 = mig.parse_gpus(_fixture("nvidia-smi-q-x-h100.xml").replace("233010DE", "20B710DE"))
    assert mig.validate(a30, {"0": ["2g.12gb", "2g.12gb"]}) == []
    assert "the GPU has 4 and 4" in mig.validate(a30, {"0": ["4g.24gb", "1g.6gb"]})[0]


# --- Converge: a recorded GPU whose state follows the commands ---


class FakeGpu:
    """nvidia-smi for one H100, answering from the recorded output and following the MIG commands it is given."""

    IDS = {name: p["id"] for name, p in mig.parse_profiles(_fixture("nvidia-smi-mig-lgip-h100.txt"))[0].items()}

    def __init__(self, report, instances, mode="Enabled", reset_needed=False):
        self.report = report
        self.instances = list(instances)   # [(gpu instance ID, profile)]
        self.mode = {"current": mode, "pending": mode}
        self.reset_needed = reset_needed
        self.calls = []

    def _xml(self):
        report = re.sub(r"<current_mig>\w+</current_mig>", "<current_mig>%s</current_mig>" % self.mode["current"], self.report)
        report = re.sub(r"<pending_mig>\w+</pending_mig>", "<pending_mig>%s</pending_mig>" % self.mode["pending"], report)
        # The MIG devices as the driver lists them now: one per GPU instance, in creation order.
        devices = "".join("<mig_device><index>%d</index><gpu_instance_id>%d</gpu_instance_id><compute_instance_id>0"
                          "</compute_instance_id></mig_device>" % (i, gid) for i, (gid, _name) in enumerate(self.instances))
        return re.sub(r"<mig_devices>.*?</mig_devices>", "<mig_devices>%s</mig_devices>" % (devices or "None"), report, flags=re.S)

    def __call__(self, argv):
        args = argv[1:]
        self.calls.append(args)
        if args == ["-q", "-x"]:
            return 0, self._xml(), ""
        if args[:3] == ["-i", "0", "-mig"]:
            wanted = "Enabled" if args[3] == "1" else "Disabled"
            self.mode["pending"] = wanted
            if not self.reset_needed:
                self.mode["current"] = wanted
            return 0, "Enabled MIG Mode for GPU 00000000:00:06.0\nAll done.\n", ""
        if self.mode["current"] != "Enabled" and args[:1] == ["mig"]:
            return 6, "No MIG-enabled devices found.\n", ""
        if args == ["mig", "-lgi"]:
            if not self.instances:
                return 6, "No GPU instances found: Not Found\n", ""
            rows = "".join("|   0  MIG %-12s %6d %8d          0:1     |\n+-------------------------------------------------------+\n"
                           % (name, self.IDS[name], gid) for gid, name in self.instances)
            return 0, "| GPU instances:                                        |\n|=======|\n" + rows, ""
        if args == ["mig", "-lci"]:
            rows = "".join("|   0      %d       MIG %-12s %6d         0          0:1     |\n" % (gid, name, 0) for gid, name in self.instances)
            return 0, rows, ""
        if args[:3] == ["mig", "-i", "0"] and args[3:] == ["-lgip"]:
            return 0, _fixture("nvidia-smi-mig-lgip-h100.txt"), ""
        if args == ["mig", "-i", "0", "-dci"] or args == ["mig", "-i", "0", "-dgi"]:
            if args[-1] == "-dgi":
                self.instances = []
            return 0, "Successfully destroyed.\n", ""
        if args[:4] == ["mig", "-i", "0", "-cgi"]:
            names = {v: k for k, v in self.IDS.items()}
            for pid in args[4].split(","):
                self.instances.append((len(self.instances) + 1, names[int(pid)]))
            return 0, "Successfully created GPU instances\n", ""
        if args == ["-L"]:
            return 0, "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-00000000-0000-0000-0000-000000000000)\n" + "".join(
                "  MIG %s     Device  %d: (UUID: MIG-%08d-0000-5000-8000-000000000000)\n" % (name, i, gid)
                for i, (gid, name) in enumerate(self.instances)), ""
        raise AssertionError("unexpected nvidia-smi %s" % args)


RECORDED = [(2, "3g.40gb"), (3, "2g.20gb")]


def test_matching_layout_changes_nothing_even_while_serving():
    fake = FakeGpu(_fixture("nvidia-smi-q-x-h100-mig.xml"), RECORDED)
    result = mig.converge(mig.NvidiaSmi("nvidia-smi", fake), {0: ["2g.20gb", "3g.40gb"]})
    assert result["changed"] is False and result["plan"] == [] and result["commands"] == []
    assert not [c for c in fake.calls if "-cgi" in c or "-dgi" in c or "-mig" in c]
    assert [d["uuid"] for d in result["mig_devices"]] == [
        "MIG-00000002-0000-5000-8000-000000000000", "MIG-00000003-0000-5000-8000-000000000000"]


def test_a_different_layout_is_refused_while_a_process_uses_the_gpu():
    fake = FakeGpu(_fixture("nvidia-smi-q-x-h100-mig.xml"), RECORDED)
    with pytest.raises(mig.MigError, match=r"processes use them: GPU 0 \(00000000:00:06.0\): "
                                           r"/opt/llama.cpp/current/bin/llama-server \(pid 4242\)"):
        mig.converge(mig.NvidiaSmi("nvidia-smi", fake), {"0": ["3g.40gb", "3g.40gb"]})
    assert not [c for c in fake.calls if c[:1] == ["mig"] and ("-cgi" in c or "-dgi" in c or "-dci" in c)]


def test_a_different_layout_on_an_idle_gpu_is_rebuilt_largest_first():
    fake = FakeGpu(_idle_report(), RECORDED)
    result = mig.converge(mig.NvidiaSmi("nvidia-smi", fake), {"0": ["1g.10gb", "3g.40gb", "1g.10gb"]})
    assert result["changed"] is True
    assert result["commands"] == [["mig", "-i", "0", "-dci"], ["mig", "-i", "0", "-dgi"], ["mig", "-i", "0", "-cgi", "9,19,19", "-C"]]
    assert result["gpus"][0]["gpu_instances"] == ["3g.40gb", "1g.10gb", "1g.10gb"]
    # The same wanted layout again: nothing to do.
    again = mig.converge(mig.NvidiaSmi("nvidia-smi", fake), {"0": ["1g.10gb", "3g.40gb", "1g.10gb"]})
    assert again["changed"] is False


def test_check_mode_plans_and_runs_nothing():
    fake = FakeGpu(_idle_report(), RECORDED)
    result = mig.converge(mig.NvidiaSmi("nvidia-smi", fake), {"0": ["7g.80gb"]}, check_mode=True)
    assert result["changed"] is True
    assert result["commands"] == [["mig", "-i", "0", "-dci"], ["mig", "-i", "0", "-dgi"], ["mig", "-i", "0", "-cgi", "7g.80gb", "-C"]]
    assert result["plan"][0]["reason"] == "layout 2g.20gb + 3g.40gb, wanted 7g.80gb"
    assert fake.instances == RECORDED
    assert all(c in (["-q", "-x"], ["mig", "-lgi"], ["mig", "-lci"], ["-L"]) for c in fake.calls)


def test_enable_mig_then_create():
    fake = FakeGpu(_fixture("nvidia-smi-q-x-h100.xml"), [], mode="Disabled")
    result = mig.converge(mig.NvidiaSmi("nvidia-smi", fake), {"0": ["4g.40gb", "3g.40gb"]})
    assert result["commands"] == [["-i", "0", "-mig", "1"], ["mig", "-i", "0", "-cgi", "5,9", "-C"]]
    assert result["gpus"][0]["mig_mode"]["current"] == "Enabled"


def test_enable_pending_a_reset_fails_with_what_to_do():
    fake = FakeGpu(_fixture("nvidia-smi-q-x-h100.xml"), [], mode="Disabled", reset_needed=True)
    with pytest.raises(mig.MigError, match="pending until the GPU is reset: reboot the host"):
        mig.converge(mig.NvidiaSmi("nvidia-smi", fake), {"0": ["7g.80gb"]})
    assert not [c for c in fake.calls if "-cgi" in c]


def test_disable_mig():
    fake = FakeGpu(_idle_report(), RECORDED)
    result = mig.converge(mig.NvidiaSmi("nvidia-smi", fake), {"0": []})
    assert result["commands"] == [["mig", "-i", "0", "-dci"], ["mig", "-i", "0", "-dgi"], ["-i", "0", "-mig", "0"]]
    assert mig.converge(mig.NvidiaSmi("nvidia-smi", fake), {"0": []})["changed"] is False


def test_instances_without_compute_instance_get_only_that():
    gpus = mig.parse_gpus(_idle_report())
    instances = mig.parse_gpu_instances(_fixture("nvidia-smi-mig-lgi-h100.txt"))
    steps = mig.plan(gpus, {"0": ["3g.40gb", "2g.20gb"]}, instances, {0: {2: [0]}})
    assert steps == [{"gpu": 0, "reason": "GPU instances 3 have no compute instance",
                      "actions": [{"do": "create_compute_instances", "gpu_instances": [3]}]}]
    assert mig.commands(steps[0], {}) == [["mig", "-i", "0", "-gi", "3", "-cci"]]


def test_invalid_profile_is_refused_before_any_command():
    fake = FakeGpu(_idle_report(), RECORDED)
    with pytest.raises(mig.MigError, match="1g.5gb is not a MIG profile of this model"):
        mig.converge(mig.NvidiaSmi("nvidia-smi", fake), {"0": ["1g.5gb"]})
    assert [c for c in fake.calls if c != ["-q", "-x"] and c[:2] != ["mig", "-lgi"] and c[:2] != ["mig", "-lci"]] == []


def test_boot_script_applies_a_layout_file(tmp_path, monkeypatch, capsys):
    fake = FakeGpu(_idle_report(), RECORDED)
    monkeypatch.setattr(mig.NvidiaSmi, "__init__", lambda self, binary="nvidia-smi", runner=None: (
        setattr(self, "binary", binary), setattr(self, "runner", fake))[0])
    layout = tmp_path / "mig.json"
    layout.write_text(json.dumps({"0": ["7g.80gb"]}))
    assert mig.main(["apply", str(layout)]) == 0
    assert "GPU 0 instance 1 7g.80gb MIG-00000001" in capsys.readouterr().out
    assert mig.main(["apply"]) == 2


# --- The module ---


def test_module_validate_only_against_a_recorded_report(run_module):
    out = run_module(nvidia_mig.main, {"profiles": {"0": ["1g.5gb"]}, "validate_only": True,
                                       "report": os.path.join(FIXTURES, "nvidia-smi-q-x-h100.xml"), "nvidia_smi": "no-such-nvidia-smi"})
    assert out["changed"] is False and "failed" not in out
    assert out["problems"][0].startswith("GPU 0 (NVIDIA H100 80GB HBM3): 1g.5gb is not a MIG profile")
    assert out["supported_profiles"]["0"][-1] == "7g.80gb"


def test_module_validate_only_from_the_pci_bus(tmp_path, run_module):
    folder = tmp_path / "bus" / "pci" / "devices" / "0000:18:00.0"
    folder.mkdir(parents=True)
    for name, value in (("vendor", "0x10de"), ("device", "0x2335"), ("class", "0x030200")):
        (folder / name).write_text(value + "\n")
    out = run_module(nvidia_mig.main, {"profiles": {"0": ["7g.141gb"], "1": ["7g.141gb"]}, "validate_only": True,
                                       "nvidia_smi": "no-such-nvidia-smi", "sysfs_root": str(tmp_path)})
    assert out["problems"] == ["GPU 1: no such GPU (the host has 1)"]


def test_module_check_mode_with_recorded_nvidia_smi(tmp_path, run_module):
    fake = FakeGpu(_idle_report(), RECORDED)
    smi = tmp_path / "nvidia-smi"
    smi.write_text("")

    def run_command(self, argv, **kwargs):
        return fake(argv)

    out = run_module(nvidia_mig.main, {"profiles": {"0": ["3g.40gb", "3g.40gb"]}, "nvidia_smi": str(smi), "_ansible_check_mode": True},
                     run_command)
    assert out["changed"] is True and out["commands"][-1] == ["mig", "-i", "0", "-cgi", "3g.40gb,3g.40gb", "-C"]
    assert fake.instances == RECORDED


def test_module_refusal_is_a_failure(tmp_path, run_module):
    fake = FakeGpu(_fixture("nvidia-smi-q-x-h100-mig.xml"), RECORDED)
    smi = tmp_path / "nvidia-smi"
    smi.write_text("")
    out = run_module(nvidia_mig.main, {"profiles": {"0": ["7g.80gb"]}, "nvidia_smi": str(smi)},
                     lambda self, argv, **kwargs: fake(argv))
    assert out["failed"] is True and "pid 4242" in out["msg"]

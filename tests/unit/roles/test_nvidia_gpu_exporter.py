"""Unit tests of the NVML exporter (roles/nvidia_gpu_exporter/files/llm-infra-nvml-exporter).

NVML is replaced by a module object with pynvml's interface: its answers are those of an H100 (the values of the
recorded report in tests/unit/fixtures) and of a host whose driver cannot be reached. The tests check the mapping to
DCGM's names, units and labels, what the alert rules and the dashboard read, and that a host without a GPU is
reported rather than crashing. The last test serves real HTTPS on loopback.
"""

from __future__ import annotations

import datetime
import importlib.machinery
import importlib.util
import ipaddress
import re
import ssl
import threading
import types
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
EXPORTER = REPO / "roles" / "nvidia_gpu_exporter" / "files" / "llm-infra-nvml-exporter"


def _load():
    loader = importlib.machinery.SourceFileLoader("llm_infra_nvml_exporter", str(EXPORTER))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


exporter = _load()


class NVMLError(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        return {9: "Driver Not Loaded", 3: "Not Supported", 999: "Unknown Error", 10: "Timeout"}.get(self.value, "error")


def fake_nvml(gpus=1, init_error=None, unsupported=(), xid_events=()):
    """A pynvml-shaped module: `gpus` H100s; NVML functions named in `unsupported` answer NVML_ERROR_NOT_SUPPORTED."""
    nvml = types.SimpleNamespace(NVMLError=NVMLError, NVML_TEMPERATURE_GPU=0, NVML_CLOCK_SM=1, NVML_CLOCK_MEM=2,
                                 NVML_MEMORY_ERROR_TYPE_CORRECTED=0, NVML_MEMORY_ERROR_TYPE_UNCORRECTED=1,
                                 NVML_VOLATILE_ECC=0, nvmlEventTypeXidCriticalError=8)
    state = {"init": 0, "events": list(xid_events), "registered": []}
    nvml.state = state

    def supported(name, fn):
        def call(*args):
            if name in unsupported:
                raise NVMLError(3)
            return fn(*args)
        setattr(nvml, name, call)

    def init():
        state["init"] += 1
        if init_error is not None:
            raise NVMLError(init_error)

    nvml.nvmlInit = init
    nvml.nvmlShutdown = lambda: None
    supported("nvmlSystemGetDriverVersion", lambda: b"580.159.04")
    supported("nvmlDeviceGetCount", lambda: gpus)
    supported("nvmlDeviceGetHandleByIndex", lambda i: ("handle", i))
    supported("nvmlDeviceGetUUID", lambda h: "GPU-00000000-0000-0000-0000-00000000000%d" % h[1])
    supported("nvmlDeviceGetName", lambda h: b"NVIDIA H100 80GB HBM3")
    supported("nvmlDeviceGetPciInfo", lambda h: types.SimpleNamespace(busId=b"00000000:%02X:00.0" % (6 + h[1])))
    supported("nvmlDeviceGetMinorNumber", lambda h: h[1])
    supported("nvmlDeviceGetUtilizationRates", lambda h: types.SimpleNamespace(gpu=87 + h[1], memory=41))
    # 81559 MiB in all, as the recorded report says; 20998 MiB used by one llama-server.
    memory = types.SimpleNamespace(total=81559 * 2**20, used=20998 * 2**20, free=(81559 - 20998) * 2**20)
    supported("nvmlDeviceGetMemoryInfo", lambda h: memory)
    supported("nvmlDeviceGetTemperature", lambda h, sensor: 41 if sensor == 0 else -1)
    supported("nvmlDeviceGetPowerUsage", lambda h: 312455)
    supported("nvmlDeviceGetTotalEnergyConsumption", lambda h: 123456789)
    supported("nvmlDeviceGetClockInfo", lambda h, clock: {1: 1980, 2: 2619}[clock])
    supported("nvmlDeviceGetCurrentClocksEventReasons", lambda h: 0x20 | 0x1)
    supported("nvmlDeviceGetTotalEccErrors", lambda h, kind, counter: {0: 5, 1: 2 * h[1]}[kind])
    supported("nvmlDeviceGetRemappedRows", lambda h: (1, 0, False, h[1] == 1))
    supported("nvmlDeviceGetPcieReplayCounter", lambda h: 0)
    supported("nvmlEventSetCreate", lambda: "events")
    supported("nvmlDeviceRegisterEvents", lambda h, kind, events: state["registered"].append((h, kind)))

    def wait(events, timeout_ms):
        if not state["events"]:
            raise NVMLError(10)
        index, xid = state["events"].pop(0)
        return types.SimpleNamespace(device=("handle", index), eventType=8, eventData=xid)

    nvml.nvmlEventSetWait_v2 = wait
    return nvml


def _samples(text):
    """{(name, frozenset(labels)): value} of an exposition text, checking every sample line's syntax on the way."""
    found = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        match = re.match(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{((?:[A-Za-z_][A-Za-z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (\S+)$', line)
        assert match, line
        labels = frozenset(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        found[(match.group(1), labels)] = float(match.group(3))
    return found


def _value(samples, name, **labels):
    hits = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls)]
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


def test_h100_metrics_carry_dcgm_names_units_and_labels():
    text = exporter.Collector(fake_nvml(), "gpu-1").collect()
    samples = _samples(text)
    assert _value(samples, "llm_infra_nvml_up") == 1
    assert _value(samples, "llm_infra_nvml_gpus") == 1
    assert _value(samples, "llm_infra_nvml_info", driver_version="580.159.04") == 1
    gpu = {"gpu": "0", "UUID": "GPU-00000000-0000-0000-0000-000000000000", "pci_bus_id": "00000000:06:00.0",
           "device": "nvidia0", "modelName": "NVIDIA H100 80GB HBM3", "Hostname": "gpu-1"}
    expected = {
        "DCGM_FI_DEV_GPU_UTIL": 87, "DCGM_FI_DEV_MEM_COPY_UTIL": 41,
        "DCGM_FI_DEV_FB_USED": 20998, "DCGM_FI_DEV_FB_FREE": 60561, "DCGM_FI_DEV_FB_TOTAL": 81559,    # MiB
        "DCGM_FI_DEV_GPU_TEMP": 41, "DCGM_FI_DEV_POWER_USAGE": 312.455,                                # C, W
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": 123456789, "DCGM_FI_DEV_SM_CLOCK": 1980, "DCGM_FI_DEV_MEM_CLOCK": 2619,
        "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS": 33, "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": 5, "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": 0,
        "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": 1, "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": 0,
        "DCGM_FI_DEV_ROW_REMAP_PENDING": 0, "DCGM_FI_DEV_ROW_REMAP_FAILURE": 0, "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": 0,
        "DCGM_FI_DEV_XID_ERRORS": 0,
    }
    for name, value in expected.items():
        assert _value(samples, name, **gpu) == pytest.approx(value), name
    # Each family is typed once, counters as counters.
    assert text.count("# TYPE DCGM_FI_DEV_GPU_TEMP gauge\n") == 1
    assert "# TYPE DCGM_FI_DEV_ECC_DBE_VOL_TOTAL counter\n" in text


def test_every_metric_the_rules_and_the_dashboard_read_is_published():
    text = exporter.Collector(fake_nvml(), "gpu-1").collect()
    published = {name for name, _labels in _samples(text)}
    rules = (REPO / "roles" / "prometheus" / "files" / "rules" / "gpu.yml").read_text()
    dashboard = (REPO / "roles" / "grafana" / "files" / "dashboards" / "gpu-fleet.json").read_text()
    read = set(re.findall(r"\b(DCGM_FI_[A-Z_]+|llm_infra_nvml_[a-z_]+)\b", rules + dashboard))
    assert read and read <= published, sorted(read - published)
    # The rules group by gpu and instance; instance is Prometheus's, gpu is ours.
    for expr in (rule["expr"] for group in yaml.safe_load(rules)["groups"] for rule in group["rules"]):
        assert "by (" not in expr or "instance" in expr


def test_two_gpus_and_a_row_remap_failure_on_the_second():
    samples = _samples(exporter.Collector(fake_nvml(gpus=2), "gpu-1").collect())
    assert _value(samples, "llm_infra_nvml_gpus") == 2
    assert _value(samples, "DCGM_FI_DEV_ROW_REMAP_FAILURE", gpu="0") == 0
    assert _value(samples, "DCGM_FI_DEV_ROW_REMAP_FAILURE", gpu="1") == 1
    assert _value(samples, "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", gpu="1") == 2
    assert _value(samples, "DCGM_FI_DEV_GPU_UTIL", gpu="1", device="nvidia1", pci_bus_id="00000000:07:00.0") == 88


def test_fields_a_gpu_does_not_support_are_left_out():
    nvml = fake_nvml(unsupported=("nvmlDeviceGetTotalEccErrors", "nvmlDeviceGetRemappedRows", "nvmlDeviceGetTotalEnergyConsumption"))
    text = exporter.Collector(nvml, "gpu-1").collect()
    assert "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL" not in text and "DCGM_FI_DEV_ROW_REMAP_FAILURE" not in text
    assert "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" not in text
    assert _value(_samples(text), "DCGM_FI_DEV_GPU_TEMP", gpu="0") == 41


def test_older_binding_with_throttle_reasons():
    nvml = fake_nvml()
    del nvml.nvmlDeviceGetCurrentClocksEventReasons
    nvml.nvmlDeviceGetCurrentClocksThrottleReasons = lambda h: 0x40
    assert _value(_samples(exporter.Collector(nvml, "h").collect()), "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS") == 64


def test_no_gpu_visible_is_reported_not_a_crash_and_retried():
    nvml = fake_nvml(init_error=9)
    collector = exporter.Collector(nvml, "gpu-none")
    text = collector.collect()
    samples = _samples(text)
    assert _value(samples, "llm_infra_nvml_up", error="Driver Not Loaded") == 0
    assert _value(samples, "llm_infra_nvml_gpus") == 0
    assert "DCGM_FI_" not in text
    collector.collect()
    assert nvml.state["init"] == 2


def test_driver_lost_between_scrapes():
    nvml = fake_nvml()
    collector = exporter.Collector(nvml, "gpu-1")
    assert "DCGM_FI_DEV_GPU_UTIL{" in collector.collect()

    def lost():
        raise NVMLError(999)

    nvml.nvmlDeviceGetCount = lost
    samples = _samples(collector.collect())
    assert _value(samples, "llm_infra_nvml_up", error="Unknown Error") == 0
    # Events of the lost session are not waited on; the next initialisation registers them again.
    assert collector.events is None and not collector.poll_events(0)


def test_xid_events_become_the_last_xid_per_gpu():
    nvml = fake_nvml(gpus=2, xid_events=[(1, 79), (1, 48)])
    collector = exporter.Collector(nvml, "gpu-1")
    collector.collect()
    assert nvml.state["registered"] == [(("handle", 0), 8), (("handle", 1), 8)]
    assert collector.poll_events(0) and collector.poll_events(0)
    assert not collector.poll_events(0)   # timeout: nothing new
    samples = _samples(collector.collect())
    assert _value(samples, "DCGM_FI_DEV_XID_ERRORS", gpu="0") == 0
    assert _value(samples, "DCGM_FI_DEV_XID_ERRORS", gpu="1") == 48


def test_label_values_are_escaped():
    nvml = fake_nvml()
    nvml.nvmlDeviceGetName = lambda h: 'odd "name"\\x'
    text = exporter.Collector(nvml, "gpu-1").collect()
    assert 'modelName="odd \\"name\\"\\\\x"' in text
    _samples(text)


def _tls(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return str(tmp_path / "tls.crt"), str(tmp_path / "tls.key")


def test_serves_metrics_over_tls_on_the_given_address(tmp_path):
    cert, key = _tls(tmp_path)
    server = exporter.serve(exporter.Collector(fake_nvml(), "gpu-1"), "127.0.0.1", 0, cert, key)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        context = ssl.create_default_context(cafile=cert)
        with urllib.request.urlopen("https://127.0.0.1:%d/metrics" % port, context=context, timeout=10) as answer:
            assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            body = answer.read().decode()
        assert "DCGM_FI_DEV_GPU_UTIL{" in body and "llm_infra_nvml_up 1" in body
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen("https://127.0.0.1:%d/" % port, context=context, timeout=10)
        assert missing.value.code == 404
        # Plain HTTP gets no metrics from a TLS listener.
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read()
    finally:
        server.shutdown()
        server.server_close()

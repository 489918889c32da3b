"""A copy of inventories/example passes every role's checks on stand-ins for its hosts.

Ten systemd containers stand in for the example's hosts at the example's own addresses (a Docker network
10.20.0.0/16), reached over SSH as its `ops` user; the two MinIO drives of each control-plane host are volumes of
their own, as dedicated disks would be. `site.yml --tags preflight` then runs every layer's argument validation and
preflight on them, and nothing else. Left to the deploy run: Alloy's, Prometheus's and Grafana's checks, whose inputs
are other roles' declarations (the example turns Loki and Grafana off anyway).

The stand-ins have no GPU: the first run tells the checks so (NO_GPU below, as extra vars) and every host passes every
layer; a second run on the serving hosts with the example's own expectation (one GPU each) is refused for that GPU
count, and for nothing else. The one value the example leaves to its user, the sha256 of the model file they publish,
is given as an extra var too. Nothing else of the copy is changed. Real containers on the local Docker engine.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from docker_engine import engine_missing
from playbook_runner import run_playbook

REPO = Path(__file__).resolve().parents[2]
NETWORK = "llm-infra-example-preflight"
# What the checks are told about hosts without a GPU: expect none, and let llama.cpp run the instances on the CPU.
NO_GPU = {"nvidia_driver_expected_gpus": 0, "nvidia_driver_require_gpu": False, "llama_cpp_allow_cpu_fallback": True}
SUBNET = "10.20.0.0/16"


def _hosts(inventory: Path) -> dict[str, str]:
    """Inventory name -> ansible_host of every host of the example."""
    found: dict[str, str] = {}

    def walk(group: dict) -> None:
        for name, host_vars in (group.get("hosts") or {}).items():
            if host_vars and "ansible_host" in host_vars:
                found[name] = host_vars["ansible_host"]
        for child in (group.get("children") or {}).values():
            walk(child or {})

    walk(yaml.safe_load((inventory / "hosts.yml").read_text())["all"])
    return found


def _stand_ins(tmp_path: Path, hosts: dict[str, str], drives: list[str], state: str) -> None:
    containers = [{"name": "llm-example-" + name, "ip": address,
                   **({"data_dirs": drives} if name.startswith("ctl-") else {})} for name, address in hosts.items()]
    plays = [{
        "name": "Stand-ins for the example's hosts",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "tasks": [{
            "name": "Manage the stand-ins",
            "ansible.builtin.include_role": {"name": "llm_infra.cluster.sandbox"},
            "vars": {
                "sandbox_containers": containers,
                "sandbox_network_name": NETWORK,
                "sandbox_network_subnet": SUBNET,
                "sandbox_owner": str(tmp_path),
                "sandbox_replace_foreign": True,
                "sandbox_ssh_bootstrap": True,
                "sandbox_ssh_user": "ops",
                "sandbox_state_dir": str(tmp_path / "state"),
                "sandbox_state": state,
            },
        }],
    }]
    result = run_playbook(tmp_path, plays, check=False, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]


def _model_digest(inventory: Path) -> dict:
    """example_models with the one value the example leaves to its user: the sha256 of the model file they publish
    (a placeholder there, which the serving layer's check refuses, as it should)."""
    models = yaml.safe_load((inventory / "group_vars" / "all" / "main.yml").read_text())["example_models"]
    assert all(model["sha256"].startswith("<") for model in models.values()), models
    return {"example_models": {key: dict(model, sha256=hashlib.sha256(model["file"].encode()).hexdigest())
                               for key, model in models.items()}}


def _preflight(tmp_path: Path, inventory: Path, **kwargs):
    state = tmp_path / "state"
    # How the controller reaches the stand-ins: the key and host keys the bootstrap made. Extra vars, so that the
    # inventory stays the user's copy.
    connection = {
        "ansible_ssh_private_key_file": str(state / "id_ed25519"),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={state}/known_hosts -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes",
    }
    return run_playbook(tmp_path, [{"ansible.builtin.import_playbook": str(REPO / "playbooks" / "site.yml")}],
                        inventory=str(inventory / "hosts.yml"), check=False, timeout=1500, tags="preflight",
                        python_interpreter=None,
                        extra_vars={**connection, **_model_digest(inventory), **kwargs.pop("extra_vars", {})}, **kwargs)


def _by_host(result) -> tuple[dict, dict]:
    """Failed task names and the roles whose tasks ran, per host, from the run's events."""
    failed, roles = defaultdict(list), defaultdict(set)
    for event in result.events:
        data = event.get("event_data") or {}
        host = data.get("host")
        if not host:
            continue
        if event.get("event") in ("runner_on_ok", "runner_on_failed", "runner_on_skipped") and data.get("role"):
            roles[host].add(data["role"].split(".")[-1])
        if event.get("event") == "runner_on_failed" and not data.get("ignore_errors"):
            res = data.get("res") or {}
            items = [item for item in res.get("results") or [] if isinstance(item, dict) and item.get("failed")]
            messages = [str(res.get("msg", ""))] + [str(item.get("msg", "")) for item in items]
            failed[host].append((data.get("task"), " | ".join(messages)))
        if event.get("event") == "runner_on_unreachable":
            failed[host].append(("unreachable", str((data.get("res") or {}).get("msg", ""))))
    return failed, roles


def test_the_example_inventory_passes_every_preflight_on_stand_ins(tmp_path):
    reason = engine_missing()
    if reason:
        pytest.skip(reason)
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventories" / "example", inventory, ignore=shutil.ignore_patterns("credentials", ".state"))
    hosts = _hosts(inventory)
    assert len(hosts) == 10, hosts
    drives = yaml.safe_load((inventory / "group_vars" / "storage" / "main.yml").read_text())["minio_drives"]
    gpu_hosts = sorted(name for name in hosts if name.startswith("gpu-"))
    try:
        _stand_ins(tmp_path, hosts, drives, "present")

        # The stand-ins have no GPU: told to expect none, every layer's checks run on every host and pass.
        first = _preflight(tmp_path, inventory, extra_vars=NO_GPU)
        failed, roles = _by_host(first)
        assert first.returncode == 0 and not failed, (dict(failed), first.stdout[-6000:])
        expected = {
            "ctl-1": {"base", "vault", "minio", "postgresql", "node_exporter", "postgres_exporter"},
            "ctl-3": {"base", "vault", "minio", "node_exporter"},
            "gw-1": {"base", "haproxy", "node_exporter"},
            "mon-1": {"base", "alertmanager", "node_exporter"},
            **{host: {"base", "nvidia_driver", "nvidia_gpu_exporter", "llama_cpp", "node_exporter"}
               for host in gpu_hosts},
        }
        for host, wanted in expected.items():
            assert wanted <= roles[host], (host, sorted(wanted - roles[host]), sorted(roles[host]))

        # With the example's own expectation (one GPU per serving host), the GPU hosts are refused for the GPU they
        # do not have, and for nothing else.
        second = _preflight(tmp_path, inventory, limit="serving")
        failed = _by_host(second)[0]
        assert second.returncode != 0, second.stdout[-3000:]
        for host in gpu_hosts:
            assert [task for task, _message in failed.get(host, [])] == ["Refuse an expected GPU count the host does not have"], (
                host, failed.get(host), second.stdout[-3000:])
            assert "nvidia_driver_expected_gpus is 1" in failed[host][0][1], failed[host]
    finally:
        _stand_ins(tmp_path, hosts, drives, "absent")

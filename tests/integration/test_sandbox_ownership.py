"""The sandbox refuses containers another checkout made (their Vault init file and keys are not here),
and replaces them only when asked. Real containers on the local Docker engine."""

from __future__ import annotations

import json
import os

import pytest

from docker_engine import docker, engine_missing
from playbook_runner import run_playbook


def _plays(name: str, owner: str, replace: bool = False, state: str = "present") -> list:
    return [
        {
            "name": "Sandbox ownership",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Manage the containers",
                    "ansible.builtin.include_role": {"name": "llm_infra.cluster.sandbox"},
                    "vars": {
                        "sandbox_containers": [{"name": name}],
                        "sandbox_network_name": name,
                        "sandbox_network_subnet": "",
                        "sandbox_owner": owner,
                        "sandbox_replace_foreign": replace,
                        "sandbox_state": state,
                    },
                }
            ],
        }
    ]


def _owner(name: str) -> str | None:
    result = docker("inspect", "--format", "{{json .Config.Labels}}", name)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout).get("llm_infra.sandbox.owner")


def _id(name: str) -> str:
    return docker("inspect", "--format", "{{.Id}}", name).stdout.strip()


def test_foreign_containers_are_refused_then_replaced_on_request(tmp_path):
    reason = engine_missing()
    if reason:
        pytest.skip(reason)
    name = f"llm-owner-test-{os.getpid()}"
    try:
        first = run_playbook(tmp_path, _plays(name, "checkout-a"), check=False)
        assert first.returncode == 0, first.stdout + first.stderr
        assert _owner(name) == "checkout-a"
        original = _id(name)

        refused = run_playbook(tmp_path, _plays(name, "checkout-b"), check=False)
        assert refused.returncode != 0
        assert f"Containers {name} already exist but were not created by this sandbox" in refused.stdout
        assert "sandbox_replace_foreign" in refused.stdout
        # Refused before any change: the other checkout's container is untouched.
        assert _id(name) == original and _owner(name) == "checkout-a"

        again = run_playbook(tmp_path, _plays(name, "checkout-a"), check=False)
        assert again.returncode == 0, again.stdout + again.stderr
        assert _id(name) == original

        replaced = run_playbook(tmp_path, _plays(name, "checkout-b", replace=True), check=False)
        assert replaced.returncode == 0, replaced.stdout + replaced.stderr
        assert _owner(name) == "checkout-b"
        assert _id(name) != original
    finally:
        run_playbook(tmp_path, _plays(name, "", state="absent"), check=False)
        docker("rm", "-f", name)
        docker("network", "rm", name)

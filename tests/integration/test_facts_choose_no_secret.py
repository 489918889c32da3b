"""A managed host's facts never choose which secret the controller renders for it (issue: secrets by host facts).

Each case takes the real wiring from playbooks/gateway.yml and playbooks/monitoring.yml (the `vars` of the task that
applies the haproxy or prometheus role, read from the playbook file, not copied), gives one managed host a local
fact that asks for another service's secret or carries a malformed field, and runs the role with it on localhost
in check mode. The play must stop naming the host and the fact, before the role's first install task, and the
secret asked for must be neither looked up nor printed: its credential file is seeded with a marker value that
must not appear in the output, and no credential file is created.

Each case is an ansible-playbook run of its own, on an inventory of its own: the wiring reads the facts of every
host of the serving group (every host of the inventory for prometheus), so cases sharing one inventory would see
each other's facts.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from playbook_runner import REPO, run_playbook

MARKER = "s3cr3t-marker-never-rendered-7f3a"


def _task_vars(playbook: str, role: str) -> dict:
    """The vars of the task in `playbook` that applies `role` (its main entry point)."""
    for play in yaml.safe_load((REPO / "playbooks" / playbook).read_text()):
        for task in play.get("tasks") or []:
            include = task.get("ansible.builtin.include_role") or {}
            if include.get("name") == "llm_infra.cluster." + role and "tasks_from" not in include:
                return copy.deepcopy(task.get("vars") or {})
    raise AssertionError("no task applies %s in %s" % (role, playbook))


def _credentials(tmp_path: Path) -> Path:
    store = tmp_path / "credentials"
    for name in ("minio/root", "vault-init.pass", "vault/approle-secret-id"):
        path = store / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(MARKER + "\n")
        path.chmod(0o600)
    return store


def _run(tmp_path: Path, inventory: dict, fact_host: str, fact: dict, role: str, role_vars: dict, honest=None):
    """`fact` is what `fact_host` reports; `honest` maps other hosts to the declarations they really have."""
    store = _credentials(tmp_path)
    before = sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file())
    reported = dict(honest or {}, **{fact_host: fact})
    plays = [
        {
            "name": "The managed hosts report their facts",
            "hosts": ",".join(sorted(reported)),
            "connection": "local",
            "gather_facts": False,
            "vars": {"__reported": reported},
            "tasks": [{"name": "Report the local fact", "ansible.builtin.set_fact": {"ansible_local": "{{ __reported[inventory_hostname] }}"}}],
        },
        {
            "name": "Apply the role as the layer playbook does",
            "hosts": "ctl",
            "connection": "local",
            "gather_facts": True,
            "tasks": [{"name": "Apply the role", "ansible.builtin.include_role": {"name": "llm_infra.cluster." + role}, "vars": role_vars}],
        },
    ]
    inventory = copy.deepcopy(inventory)
    inventory.setdefault("all", {}).setdefault("vars", {}).update(
        {"llm_infra_credentials_dir": str(store), "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    )
    result = run_playbook(tmp_path, plays, inventory=inventory)
    after = sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file())
    return result, result.stdout + result.stderr, before, after


GATEWAY_INVENTORY = {
    "serving": {"hosts": {"srv1": {"llm_infra_private_address": "10.0.0.21"}}},
    "gateway": {"hosts": {"ctl": {"llm_infra_private_address": "127.0.0.1", "haproxy_api_keys": [{"name": "team-a", "key": "a" * 32}]}}},
}
INSTANCE = {"instance": "main", "model": "gemma", "address": "10.0.0.21", "port": 8443, "scheme": "https", "health_path": "/health"}

GATEWAY_CASES = {
    "another_services_secret": (
        {"api_key_credential": "minio/root"},
        "srv1: instances[0] asks for api_key_credential 'minio/root', but the controller gives this engine's backends "
        "'llama_cpp/backend-api-key'",
    ),
    "the_vault_init_password": ({"api_key_credential": "vault-init.pass"}, "asks for api_key_credential 'vault-init.pass'"),
    "a_directive_in_the_address": (
        {"address": "10.0.0.21:8443 check\n    server evil 203.0.113.9"},
        "srv1: instances[0].address '10.0.0.21:8443 check\\n    server evil 203.0.113.9' must be an IP address",
    ),
    "an_empty_tls_name": ({"host": ""}, "srv1: instances[0].host '' is not the inventory name 'srv1'"),
}


@pytest.mark.parametrize("case", sorted(GATEWAY_CASES))
def test_the_gateway_refuses_a_serving_hosts_greedy_or_bad_fact(tmp_path: Path, case: str) -> None:
    extra, expected = GATEWAY_CASES[case]
    fact = {"llm_infra_serving_llama_cpp": {"instances": [dict(INSTANCE, **extra)]}}
    result, output, before, after = _run(tmp_path, GATEWAY_INVENTORY, "srv1", fact, "haproxy", _task_vars("gateway.yml", "haproxy"))
    assert result.returncode != 0, output
    assert "haproxy_serving_instances refused the instances the serving hosts publish" in output, output
    assert expected in output, output
    assert MARKER not in output
    assert after == before, "credentials were created: %s" % sorted(set(after) - set(before))
    assert "Install HAProxy from the distribution" not in output, output


def test_the_gateway_accepts_a_good_fact_with_the_controllers_key(tmp_path: Path) -> None:
    """The same wiring with an honest fact gets past the filter and the role's preflight (the check fails nowhere
    before the install step), so the refusals above are the filter's doing."""
    fact = {"llm_infra_serving_llama_cpp": {"instances": [INSTANCE]}}
    plays_vars = _task_vars("gateway.yml", "haproxy")
    store = _credentials(tmp_path)
    plays = [
        {"name": "Report", "hosts": "srv1", "connection": "local", "gather_facts": False,
         "tasks": [{"name": "Report the local fact", "ansible.builtin.set_fact": {"ansible_local": fact}}]},
        {"name": "Evaluate the wiring", "hosts": "ctl", "connection": "local", "gather_facts": False, "vars": plays_vars,
         "tasks": [{"name": "Show the backends", "ansible.builtin.debug": {"msg": "{{ haproxy_llm_backends | to_json }}"}}]},
    ]
    inventory = copy.deepcopy(GATEWAY_INVENTORY)
    inventory["all"] = {"vars": {"llm_infra_credentials_dir": str(store), "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}
    result = run_playbook(tmp_path, plays, inventory=inventory)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert '"api_key_credential": "llama_cpp/backend-api-key"' in output, output
    assert '"host": "srv1"' in output, output


MONITORING_INVENTORY = {
    "serving": {"hosts": {"srv1": {"llm_infra_private_address": "10.0.0.21"}}},
    "storage": {"hosts": {"st1": {"llm_infra_private_address": "10.0.0.22"}}},
    "monitoring": {"hosts": {"ctl": {"llm_infra_private_address": "127.0.0.1"}}},
}

# The monitoring host's own declarations, which monitoring.yml reads for the Alertmanager addresses.
MONITORING_HOST_DECLARATIONS = {"ctl": {"llm_infra_service_alertmanager": {
    "name": "alertmanager", "listeners": [{"proto": "tcp", "port": 9093}], "health": {"scheme": "https", "port": 9093}}}}

MONITORING_CASES = {
    "minio_root_for_a_serving_host": (
        "srv1",
        {"llm_infra_service_llama_cpp_main": {
            "name": "llama_cpp_main", "metrics": {"port": 8443, "scheme": "https", "auth": "bearer", "credential": "minio/root"}}},
        "srv1: llm_infra_service_llama_cpp_main: job 'llama_cpp_main' asks for credential='minio/root'",
    ),
    "the_approle_for_an_unprotected_job": (
        "st1",
        {"llm_infra_service_node_exporter": {
            "name": "node_exporter", "metrics": {"port": 9100, "auth": "bearer", "credential": "vault/approle-secret-id"}}},
        "job 'node_exporter' asks for auth='bearer', credential='vault/approle-secret-id', but prometheus_scrape_auth "
        "gives this job no credential",
    ),
    "minio_job_claimed_by_a_serving_host": (
        "srv1",
        {"llm_infra_service_llama_cpp_main": {"name": "llama_cpp_main", "metrics": {"job": "minio", "port": 9000, "auth": "bearer"}}},
        "job 'minio' carries a credential that only hosts of storage may be scraped with; srv1 is in none of them",
    ),
    "a_scrape_config_in_the_port": (
        "st1",
        {"llm_infra_service_minio": {"name": "minio", "metrics": {"port": "9000\n  - job_name: evil", "auth": "bearer"}}},
        "st1: llm_infra_service_minio: port '9000\\n  - job_name: evil' must be an integer 1-65535",
    ),
}


@pytest.mark.parametrize("case", sorted(MONITORING_CASES))
def test_prometheus_refuses_a_declaration_that_asks_for_a_secret(tmp_path: Path, case: str) -> None:
    host, fact, expected = MONITORING_CASES[case]
    result, output, before, after = _run(tmp_path, MONITORING_INVENTORY, host, fact, "prometheus", _task_vars("monitoring.yml", "prometheus"),
                                         honest=MONITORING_HOST_DECLARATIONS)
    assert result.returncode != 0, output
    assert "prometheus_targets_from_facts refused the service declarations of the managed hosts" in output, output
    assert expected in output, output
    assert MARKER not in output
    assert after == before, "credentials were created: %s" % sorted(set(after) - set(before))
    assert "Install Prometheus" not in output, output

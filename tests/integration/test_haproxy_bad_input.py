"""Bad input to the haproxy role fails in preflight, before any change, naming the variable.

Each case runs the venv's ansible-playbook against localhost (connection local) in check mode: the preflight
asserts stop the play before the first install task, and check mode is a second safety net.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from playbook_runner import REPO, run_playbook

INSTANCE = {
    "instance": "main",
    "model": "gemma-3-270m",
    "address": "10.0.0.2",
    "port": 8443,
    "scheme": "https",
    "health_path": "/health",
    "api_key_credential": "llama_cpp/backend-api-key",
    "host": "srv1",
}

BASE_VARS = {
    "llm_infra_private_address": "127.0.0.1",
    "haproxy_api_keys": [{"name": "team-a", "key": "a" * 32}],
    "haproxy_llm_backends": [INSTANCE],
}

CASES = {
    "key_without_name": (
        {"haproxy_api_keys": [{"name": "team-a"}, {"key": "b" * 32}]},
        ["haproxy_api_keys[1] has no name"],
    ),
    "two_keys_same_name": (
        {"haproxy_api_keys": [{"name": "team-a"}, {"name": "team-b"}, {"name": "team-a"}]},
        ["haproxy_api_keys: the name 'team-a' is used twice (entries 0 and 2)"],
    ),
    "alias_to_unserved_model": (
        {"haproxy_model_aliases": {"gpt-4o": "llama-3-8b"}},
        ["haproxy_model_aliases: 'gpt-4o' is routed to model 'llama-3-8b', which no backend serves (served: gemma-3-270m)"],
    ),
    "no_backend_at_all": (
        {"haproxy_llm_backends": []},
        ["haproxy_llm_backends is empty"],
    ),
    "zero_rate_limit": (
        {"haproxy_api_key_requests_per_minute": 0},
        ["haproxy_api_key_requests_per_minute must be a positive integer, got 0"],
    ),
    "negative_concurrency_limit": (
        {"haproxy_api_key_max_concurrent": -3},
        ["haproxy_api_key_max_concurrent must be a positive integer, got -3"],
    ),
    "zero_rate_limit_of_one_key": (
        {"haproxy_api_keys": [{"name": "team-a", "requests_per_minute": 0}]},
        ["haproxy_api_keys[0].requests_per_minute must be a positive integer, got 0"],
    ),
    "negative_concurrency_of_one_key": (
        {"haproxy_api_keys": [{"name": "team-a", "max_concurrent": -1}]},
        ["haproxy_api_keys[0].max_concurrent must be a positive integer, got -1"],
    ),
    "plain_http_backend": (
        {"haproxy_llm_backends": [dict(INSTANCE, scheme="http")]},
        ["haproxy_llm_backends[0].scheme 'http'"],
    ),
    "body_limit_past_the_buffer": (
        {"haproxy_max_body_bytes": 60000},
        ["haproxy_max_body_bytes (60000) must be 1024 to haproxy_tune_bufsize - 16384 (49152)"],
    ),
    "no_unauthenticated_budget": (
        {"haproxy_unauthenticated_requests_per_minute": 0},
        ["haproxy_unauthenticated_requests_per_minute must be a positive integer, got 0"],
    ),
    "source_cap_past_maxconn": (
        {"haproxy_source_max_connections": 5000},
        ["haproxy_source_max_connections (5000) must be 1 to haproxy_maxconn (2000)"],
    ),
    "body_timeout_not_a_duration": (
        {"haproxy_timeout_http_body": "soon"},
        ["haproxy_timeout_http_body (soon) must be a duration like 10s or 500ms"],
    ),
    "empty_tls_name_of_a_server": (
        {"haproxy_llm_backends": [dict(INSTANCE, host="")]},
        ["haproxy_llm_backends[0].host '' must be the server's host name (its TLS name"],
    ),
    "directive_in_a_server_address": (
        {"haproxy_llm_backends": [dict(INSTANCE, address="10.0.0.2:8443 check\n    server evil 203.0.113.9")]},
        ["haproxy_llm_backends[0].address '10.0.0.2:8443 check\\n    server evil 203.0.113.9' must be an IP address or host name"],
    ),
    "bad_client_network": (
        {"haproxy_client_cidrs": ["10.0.0.300/8"]},
        ["haproxy_client_cidrs (10.0.0.300/8)"],
    ),
}


def run_role(tmp_path: Path, role_vars: dict) -> subprocess.CompletedProcess:
    play = [
        {
            "name": "Apply the haproxy role with bad input",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": True,
            "tasks": [
                {
                    "name": "Apply the role",
                    "ansible.builtin.include_role": {"name": "llm_infra.cluster.haproxy"},
                }
            ],
        }
    ]
    # Extra vars: the bad value must win over the role defaults.
    return run_playbook(tmp_path, play, extra_vars={**BASE_VARS, **role_vars})


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_naming_the_variable(tmp_path: Path, case: str) -> None:
    role_vars, expected = CASES[case]
    result = run_role(tmp_path, role_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for fragment in expected:
        assert fragment in output, f"{fragment!r} missing from the output:\n{output}"
    # Nothing past preflight ran: the install task never started.
    assert "Install HAProxy from the distribution" not in output, output


def test_keepalived_configuration_renders_for_two_gateways(tmp_path: Path) -> None:
    """The floating address is not tested live here: its configuration is rendered for two gateways and read back."""
    role = REPO / "roles" / "haproxy"
    dest = tmp_path / "keepalived.conf"
    play = [
        {
            "name": "Render the keepalived configuration of the haproxy role",
            "hosts": "gw-2",
            "connection": "local",
            "gather_facts": False,
            "vars": {"llm_infra_credentials_dir": str(tmp_path / "credentials")},
            "tasks": [
                {"name": "Load the role's defaults", "ansible.builtin.include_vars": str(role / "defaults" / "main.yml")},
                {"name": "Load the role's internal variables", "ansible.builtin.include_vars": str(role / "vars" / "main.yml")},
                {
                    "name": "Render the configuration",
                    "ansible.builtin.template": {
                        "src": str(role / "templates" / "etc" / "keepalived" / "keepalived.conf.j2"),
                        "dest": str(dest),
                        "mode": "0600",
                    },
                },
            ],
        }
    ]
    inventory = {
        "gateway": {
            "hosts": {
                "gw-1": {"llm_infra_private_address": "10.0.0.11"},
                "gw-2": {"llm_infra_private_address": "10.0.0.12"},
            }
        }
    }
    extra = {"haproxy_vip_address": "10.0.0.100", "haproxy_vip_interface": "ens3", "ansible_facts": {}}
    result = run_playbook(tmp_path, play, inventory=inventory, extra_vars=extra, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    text = dest.read_text()
    assert "unicast_src_ip 10.0.0.12" in text
    assert "10.0.0.11" in text.split("unicast_peer {", 1)[1].split("}", 1)[0]
    assert "priority 199" in text  # second gateway in group order
    assert "10.0.0.100/24 dev ens3" in text
    assert "auth_pass " in text and len(text.split("auth_pass ", 1)[1].split()[0]) == 8

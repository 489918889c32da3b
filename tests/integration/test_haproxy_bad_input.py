"""Bad input to the haproxy role fails in preflight, before any change, naming the variable.

The bad-input cases run as one playbook in check mode, one inventory host with a local connection per case (see
playbook_runner.run_cases): the preflight asserts stop each host before the first install task, and check mode is
a second safety net. The preflight reads only the host's own variables (no run_once, no group), so the cases stay
apart in one run. The keepalived configuration, which depends on the gateway group, renders in a run of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook_runner import REPO, assert_case_fails_naming, run_cases, run_playbook

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
    "key-without-name": (
        {"haproxy_api_keys": [{"name": "team-a"}, {"key": "b" * 32}]},
        ["haproxy_api_keys[1] has no name"],
    ),
    "two-keys-same-name": (
        {"haproxy_api_keys": [{"name": "team-a"}, {"name": "team-b"}, {"name": "team-a"}]},
        ["haproxy_api_keys: the name 'team-a' is used twice (entries 0 and 2)"],
    ),
    "alias-to-unserved-model": (
        {"haproxy_model_aliases": {"gpt-4o": "llama-3-8b"}},
        ["haproxy_model_aliases: 'gpt-4o' is routed to model 'llama-3-8b', which no backend serves"
         " (served: gemma-3-270m)"],
    ),
    "no-backend-at-all": (
        {"haproxy_llm_backends": []},
        ["haproxy_llm_backends is empty"],
    ),
    "zero-rate-limit": (
        {"haproxy_api_key_requests_per_minute": 0},
        ["haproxy_api_key_requests_per_minute must be a positive integer, got 0"],
    ),
    "negative-concurrency-limit": (
        {"haproxy_api_key_max_concurrent": -3},
        ["haproxy_api_key_max_concurrent must be a positive integer, got -3"],
    ),
    "zero-rate-limit-of-one-key": (
        {"haproxy_api_keys": [{"name": "team-a", "requests_per_minute": 0}]},
        ["haproxy_api_keys[0].requests_per_minute must be a positive integer, got 0"],
    ),
    "negative-concurrency-of-one-key": (
        {"haproxy_api_keys": [{"name": "team-a", "max_concurrent": -1}]},
        ["haproxy_api_keys[0].max_concurrent must be a positive integer, got -1"],
    ),
    "plain-http-backend": (
        {"haproxy_llm_backends": [dict(INSTANCE, scheme="http")]},
        ["haproxy_llm_backends[0].scheme 'http'"],
    ),
    "body-limit-past-the-buffer": (
        {"haproxy_max_body_bytes": 60000},
        ["haproxy_max_body_bytes (60000) must be 1024 to haproxy_tune_bufsize - 16384 (49152)"],
    ),
    "no-unauthenticated-budget": (
        {"haproxy_unauthenticated_requests_per_minute": 0},
        ["haproxy_unauthenticated_requests_per_minute must be a positive integer, got 0"],
    ),
    "source-cap-past-maxconn": (
        {"haproxy_source_max_connections": 5000},
        ["haproxy_source_max_connections (5000) must be 1 to haproxy_maxconn (2000)"],
    ),
    "body-timeout-not-a-duration": (
        {"haproxy_timeout_http_body": "soon"},
        ["haproxy_timeout_http_body (soon) must be a duration like 10s or 500ms"],
    ),
    "empty-tls-name-of-a-server": (
        {"haproxy_llm_backends": [dict(INSTANCE, host="")]},
        ["haproxy_llm_backends[0].host '' must be the server's host name (its TLS name"],
    ),
    "directive-in-a-server-address": (
        {"haproxy_llm_backends": [dict(INSTANCE, address="10.0.0.2:8443 check\n    server evil 203.0.113.9")]},
        ["haproxy_llm_backends[0].address '10.0.0.2:8443 check\\n    server evil 203.0.113.9'"
         " must be an IP address or host name"],
    ),
    "bad-client-network": (
        {"haproxy_client_cidrs": ["10.0.0.300/8"]},
        ["haproxy_client_cidrs (10.0.0.300/8)"],
    ),
}


BAD_INPUT_PLAY = [
    {
        "name": "Apply the haproxy role with bad input",
        "hosts": "cases",
        "gather_facts": True,
        "tasks": [
            {
                "name": "Apply the role",
                "ansible.builtin.include_role": {"name": "llm_infra.cluster.haproxy"},
            }
        ],
    }
]


@pytest.fixture(scope="module")
def bad_input_runs(tmp_path_factory):
    # Case variables, read by include_vars: the bad value wins over the role defaults as extra vars did.
    cases = {case: {**BASE_VARS, **role_vars} for case, (role_vars, _expected) in CASES.items()}
    return run_cases(tmp_path_factory.mktemp("haproxy"), BAD_INPUT_PLAY, cases)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_naming_the_variable(bad_input_runs, case: str) -> None:
    # Nothing past preflight ran: the install task never started.
    assert_case_fails_naming(bad_input_runs[case], *CASES[case][1],
                             not_reached=("Install HAProxy from the distribution",))


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
                {"name": "Load the role's defaults",
                 "ansible.builtin.include_vars": str(role / "defaults" / "main.yml")},
                {"name": "Load the role's internal variables",
                 "ansible.builtin.include_vars": str(role / "vars" / "main.yml")},
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

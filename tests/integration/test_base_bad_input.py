"""Bad input to the base role fails in its preflight, before any change, and names the variable at fault.

Each case writes a tiny playbook that applies llm_infra.cluster.base (or its declare_service entry point) to
localhost with a local connection and runs it in --check mode: the preflight asserts come first, and check
mode is a second safety net because these tests run on the CI machine itself.
"""

from __future__ import annotations

import subprocess

import pytest

from playbook_runner import assert_fails_naming as shared_assert_fails_naming
from playbook_runner import run_playbook

GOOD_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDJ8i0l1dWGK5v3ZzJ2G7m7Pq0mZ8rQ2nX6tYkq2m0Zt test@example"


def base_play(play_vars: dict) -> list:
    return [
        {
            "name": "Apply base with bad input",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": play_vars,
            "roles": [{"role": "llm_infra.cluster.base"}],
        }
    ]


def assert_fails_naming(result: subprocess.CompletedProcess, *needles: str) -> None:
    # Failed in the preflight: no task after it ran.
    shared_assert_fails_naming(result, *needles, not_reached=('Install the baseline packages',))


def test_admin_user_without_key(tmp_path):
    play_vars = {
        "llm_infra_private_address": "10.0.0.10",
        "base_admin_users": [
            {"name": "bob", "ssh_keys": [GOOD_KEY]},
            {"name": "alice", "ssh_keys": []},
        ],
    }
    result = run_playbook(tmp_path, base_play(play_vars))
    assert_fails_naming(result, "base_admin_users[1] (alice): ssh_keys is empty")


def test_invalid_cidr_in_ssh_sources(tmp_path):
    play_vars = {
        "llm_infra_private_address": "10.0.0.10",
        "base_firewall_ssh_sources": ["10.0.0.0/8", "10.0.0.0/33"],
    }
    result = run_playbook(tmp_path, base_play(play_vars))
    assert_fails_naming(result, "base_firewall_ssh_sources", "10.0.0.0/33")


@pytest.mark.parametrize(
    "play_vars",
    [
        pytest.param({"base_ssh_port": 22}, id="missing"),
        pytest.param({"llm_infra_private_address": "10.0.0.300"}, id="invalid"),
        pytest.param({"llm_infra_private_address": "10.0.0.0/24"}, id="network-not-address"),
    ],
)
def test_missing_or_invalid_private_address(tmp_path, play_vars):
    result = run_playbook(tmp_path, base_play(play_vars))
    assert_fails_naming(result, "llm_infra_private_address")


def declare_play(listeners: list) -> list:
    return [
        {
            "name": "Declare a service with a bad listener",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Declare it",
                    "ansible.builtin.include_role": {"name": "llm_infra.cluster.base", "tasks_from": "declare_service"},
                    "vars": {"base_service_name": "broken", "base_service_listeners": listeners},
                }
            ],
        }
    ]


@pytest.mark.parametrize(
    ("listener", "needle"),
    [
        pytest.param({"port": 70000, "allow_cidrs": ["10.0.0.0/8"]}, "port 70000", id="port-out-of-range"),
        pytest.param({"proto": "udp", "allow_cidrs": ["10.0.0.0/8"]}, "port none, proto udp", id="udp-without-port"),
        pytest.param({"port": 112, "proto": "vrrp", "allow_cidrs": ["10.0.0.0/8"]}, "vrrp without a port", id="vrrp-with-port"),
    ],
)
def test_declare_service_bad_listener(tmp_path, listener, needle):
    result = run_playbook(tmp_path, declare_play([{"port": 8080, "allow_cidrs": ["10.0.0.0/8"]}, listener]))
    assert_fails_naming(result, "base_service_listeners[1]", needle)
    assert "Write the firewall rules of the service" not in result.stdout


@pytest.mark.parametrize(
    ("unit_vars", "needle"),
    [
        pytest.param({"base_unit_name": "haproxy"}, "base_unit_name must be a .service unit", id="not-a-service"),
        pytest.param({"base_unit_name": "haproxy.service", "base_unit_capabilities": ["NET_ADMIN"]}, "(NET_ADMIN)", id="capability-name"),
        pytest.param({"base_unit_name": "haproxy.service", "base_unit_read_write_paths": ["run/haproxy"]}, "base_unit_read_write_paths", id="relative-path"),
        pytest.param({"base_unit_name": "haproxy.service", "base_unit_umask": "27"}, "base_unit_umask", id="umask"),
    ],
)
def test_harden_unit_bad_input(tmp_path, unit_vars, needle):
    plays = [
        {
            "name": "Sandbox a unit with bad input",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Sandbox it",
                    "ansible.builtin.include_role": {"name": "llm_infra.cluster.base", "tasks_from": "harden_unit"},
                    "vars": unit_vars,
                }
            ],
        }
    ]
    result = run_playbook(tmp_path, plays)
    assert_fails_naming(result, "harden_unit of", needle)
    assert "Write the unit's sandbox" not in result.stdout

"""Bad input to the base role fails in its preflight, before any change, and names the variable at fault.

The cases of each entry point (the role, declare_service, harden_unit) run as one playbook in --check mode, one
inventory host with a local connection per case: the preflight asserts come first, and check mode is a second
safety net because these tests run on the CI machine itself.
"""

from __future__ import annotations

import pytest

from playbook_runner import assert_case_fails_naming, run_cases

GOOD_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDJ8i0l1dWGK5v3ZzJ2G7m7Pq0mZ8rQ2nX6tYkq2m0Zt test@example"


# Every case of a play shape runs in one playbook, one inventory host per case (see playbook_runner.run_cases).
BASE_PLAY = [
    {
        "name": "Apply base with bad input",
        "hosts": "cases",
        "gather_facts": False,
        "roles": [{"role": "llm_infra.cluster.base"}],
    }
]

BASE_CASES = {
    "admin-user-without-key": (
        {
            "llm_infra_private_address": "10.0.0.10",
            "base_admin_users": [{"name": "bob", "ssh_keys": [GOOD_KEY]}, {"name": "alice", "ssh_keys": []}],
        },
        ["base_admin_users[1] (alice): ssh_keys is empty"],
    ),
    "invalid-cidr-in-ssh-sources": (
        {"llm_infra_private_address": "10.0.0.10", "base_firewall_ssh_sources": ["10.0.0.0/8", "10.0.0.0/33"]},
        ["base_firewall_ssh_sources", "10.0.0.0/33"],
    ),
    "private-address-missing": ({"base_ssh_port": 22}, ["llm_infra_private_address"]),
    "private-address-invalid": ({"llm_infra_private_address": "10.0.0.300"}, ["llm_infra_private_address"]),
    "private-address-a-network": ({"llm_infra_private_address": "10.0.0.0/24"}, ["llm_infra_private_address"]),
}


@pytest.fixture(scope="module")
def base_runs(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("base"), BASE_PLAY, {k: v for k, (v, _needles) in BASE_CASES.items()})


@pytest.mark.parametrize("case", BASE_CASES)
def test_base_bad_input(base_runs, case):
    # Failed in the preflight: no task after it ran.
    assert_case_fails_naming(base_runs[case], *BASE_CASES[case][1], not_reached=("Install the baseline packages",))


DECLARE_PLAY = [
    {
        "name": "Declare a service with a bad listener",
        "hosts": "cases",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Declare it",
                "ansible.builtin.include_role": {"name": "llm_infra.cluster.base", "tasks_from": "declare_service"},
            }
        ],
    }
]

GOOD_LISTENER = {"port": 8080, "allow_cidrs": ["10.0.0.0/8"]}
DECLARE_CASES = {
    "port-out-of-range": ({"port": 70000, "allow_cidrs": ["10.0.0.0/8"]}, "port 70000"),
    "udp-without-port": ({"proto": "udp", "allow_cidrs": ["10.0.0.0/8"]}, "port none, proto udp"),
    "vrrp-with-port": ({"port": 112, "proto": "vrrp", "allow_cidrs": ["10.0.0.0/8"]}, "vrrp without a port"),
}


@pytest.fixture(scope="module")
def declare_runs(tmp_path_factory):
    cases = {name: {"base_service_name": "broken", "base_service_listeners": [GOOD_LISTENER, listener]}
             for name, (listener, _needle) in DECLARE_CASES.items()}
    return run_cases(tmp_path_factory.mktemp("declare"), DECLARE_PLAY, cases)


@pytest.mark.parametrize("case", DECLARE_CASES)
def test_declare_service_bad_listener(declare_runs, case):
    assert_case_fails_naming(declare_runs[case], "base_service_listeners[1]", DECLARE_CASES[case][1],
                             not_reached=("Write the firewall rules of the service",))


HARDEN_PLAY = [
    {
        "name": "Sandbox a unit with bad input",
        "hosts": "cases",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Sandbox it",
                "ansible.builtin.include_role": {"name": "llm_infra.cluster.base", "tasks_from": "harden_unit"},
            }
        ],
    }
]

HARDEN_CASES = {
    "not-a-service": ({"base_unit_name": "haproxy"}, "base_unit_name must be a .service unit"),
    "capability-name": ({"base_unit_name": "haproxy.service", "base_unit_capabilities": ["NET_ADMIN"]}, "(NET_ADMIN)"),
    "relative-path": ({"base_unit_name": "haproxy.service", "base_unit_read_write_paths": ["run/haproxy"]},
                      "base_unit_read_write_paths"),
    "umask": ({"base_unit_name": "haproxy.service", "base_unit_umask": "27"}, "base_unit_umask"),
}


@pytest.fixture(scope="module")
def harden_runs(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("harden"), HARDEN_PLAY,
                     {k: v for k, (v, _needle) in HARDEN_CASES.items()})


@pytest.mark.parametrize("case", HARDEN_CASES)
def test_harden_unit_bad_input(harden_runs, case):
    assert_case_fails_naming(harden_runs[case], "harden_unit of", HARDEN_CASES[case][1],
                             not_reached=("Write the unit's sandbox",))

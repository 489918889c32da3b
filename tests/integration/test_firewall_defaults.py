"""Who may reach SSH, Vault's API, Loki and the gateway's plain-HTTP port, as the firewall templates render them.

The rules are rendered from base's own templates (nftables.conf and the declare_service drop-in) with the real
declarations of the vault, loki and haproxy roles (read from their task and vars files) and the roles' defaults,
once against a synthetic inventory with nothing set and once against inventories/example. What a rule admits is
compared as sets of addresses, so a merge of adjacent addresses into one network changes nothing. Each rendering is
a playbook run of its own, since what a rule admits depends on the inventory's groups.

The checks of base's preflight on the SSH sources run as one playbook in check mode, one inventory host per case
(see playbook_runner.run_cases).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
import yaml

from playbook_runner import REPO, assert_case_fails_naming, run_cases, run_playbook

BASE = REPO / "roles" / "base"
EXAMPLE = REPO / "inventories" / "example"

# One host per group, each with its own address, so that every admitted source names its group.
GROUP_HOSTS = {
    "vault": ("vault-1", "10.1.0.1"),
    "monitoring": ("mon-1", "10.1.0.2"),
    "serving": ("serve-1", "10.1.0.3"),
    "gateway": ("gw-1", "10.1.0.4"),
    "storage": ("store-1", "10.1.0.5"),
    "database": ("db-1", "10.1.0.6"),
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def declaration(role: str, tasks_file: str) -> dict:
    """The vars of the role's declare_service call, as its task file writes them."""
    for task in load(REPO / "roles" / role / "tasks" / tasks_file):
        include = task.get("ansible.builtin.include_role") or {}
        if include.get("tasks_from") == "declare_service":
            return task["vars"]
    raise AssertionError(f"roles/{role}/tasks/{tasks_file} declares no service")


def inventory_keys() -> set:
    return {key for path in (EXAMPLE / "group_vars").rglob("*.yml") for key in load(path)}


def role_vars(role: str, skip: set = frozenset()) -> dict:
    """A role's defaults and vars, leaving out what the inventory sets (play vars would outrank it)."""
    values = {}
    for part in ("defaults", "vars"):
        path = REPO / "roles" / role / part / "main.yml"
        if path.exists():
            values.update(load(path))
    return {key: value for key, value in values.items() if key not in skip}


def render(tmp_path: Path, inventory, hosts: str, play_vars: dict, drop_ins: dict) -> Path:
    """nftables.conf and one drop-in per declaration in drop_ins, for every host of `hosts`."""
    out = tmp_path / "out"
    out.mkdir()
    tasks = [
        {
            "name": "Render the main ruleset",
            "ansible.builtin.template": {
                "src": str(BASE / "templates" / "etc" / "nftables.conf.j2"),
                "dest": str(out) + "/{{ inventory_hostname }}-nftables.conf",
                "mode": "0600",
            },
        }
    ]
    for name, declared in drop_ins.items():
        tasks.append({
            "name": f"Render the drop-in of {name}",
            "ansible.builtin.template": {
                "src": str(BASE / "templates" / "etc" / "nftables.d" / "service.nft.j2"),
                "dest": str(out) + "/{{ inventory_hostname }}-" + name + ".nft",
                "mode": "0600",
            },
            "vars": {"base_service_name": name, "base_service_listeners": declared["base_service_listeners"]},
            **({"when": declared["when"]} if "when" in declared else {}),
        })
    play = [{"name": "Render the firewall", "hosts": hosts, "connection": "local", "gather_facts": False,
             "vars": play_vars, "tasks": tasks}]
    result = run_playbook(tmp_path, play, inventory=inventory, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def admitted(text: str, port: str) -> set:
    """Every address the rules for `port` (e.g. "tcp dport 22") accept; "any" stands for a whole address family."""
    addresses = set()
    for line in text.splitlines():
        match = re.search(r"ip6? saddr \{ ([^}]*) \} " + re.escape(port) + " accept", line)
        if not match:
            continue
        for item in match.group(1).split(","):
            network = ipaddress.ip_network(item.strip())
            if network.prefixlen == 0:
                addresses.add("any")
            else:
                hosts = network if network.num_addresses > 1 else [network.network_address]
                addresses.update(str(address) for address in hosts)
    return addresses


def synthetic_inventory(**host_vars) -> dict:
    return {
        "all": {
            "children": {
                group: {"hosts": {host: {"llm_infra_private_address": address, **host_vars}}}
                for group, (host, address) in GROUP_HOSTS.items()
            }
        }
    }


def test_defaults_open_ssh_to_no_one_and_vault_only_to_its_users(tmp_path: Path):
    """Nothing set: SSH has no source at all, Vault's API admits its members and monitoring, no other group."""
    play_vars = {**role_vars("base"), **role_vars("vault")}
    drop_ins = {"openbao": declaration("vault", "service.yml")}
    out = render(tmp_path, synthetic_inventory(), "vault-1", play_vars, drop_ins)
    ruleset = (out / "vault-1-nftables.conf").read_text()
    assert admitted(ruleset, "tcp dport 22") == set(), ruleset
    assert "0.0.0.0/0" not in ruleset and "::/0" not in ruleset, ruleset

    vault = (out / "vault-1-openbao.nft").read_text()
    assert admitted(vault, "tcp dport 8200") == {"10.1.0.1", "10.1.0.2"}, vault
    assert admitted(vault, "tcp dport 8201") == {"10.1.0.1"}, vault


def test_vault_api_follows_a_renamed_cluster_group(tmp_path: Path):
    inventory = synthetic_inventory()
    inventory["all"]["children"]["kv"] = {"hosts": {"kv-1": {"llm_infra_private_address": "10.1.0.9"}}}
    play_vars = {**role_vars("base"), **role_vars("vault"), "vault_cluster_group": "kv"}
    out = render(tmp_path, inventory, "kv-1", play_vars, {"openbao": declaration("vault", "service.yml")})
    assert admitted((out / "kv-1-openbao.nft").read_text(), "tcp dport 8200") == {"10.1.0.9", "10.1.0.2"}


def test_loki_admits_the_inventory_hosts_only(tmp_path: Path):
    """Loki's port: the hosts that ship logs (every inventory host runs Alloy) and no address outside them."""
    play_vars = {**role_vars("base"), **role_vars("loki")}
    out = render(tmp_path, synthetic_inventory(), "mon-1", play_vars, {"loki": declaration("loki", "main.yml")})
    loki = (out / "mon-1-loki.nft").read_text()
    assert admitted(loki, "tcp dport 3100") == {address for _group, address in GROUP_HOSTS.values()}, loki


def test_example_inventory_names_its_admin_sources(tmp_path: Path):
    """inventories/example: SSH and Vault's API from the admin network, no plain-HTTP port on the gateways."""
    skip = inventory_keys()
    play_vars = {**role_vars("base", skip), **role_vars("vault", skip), **role_vars("haproxy", skip)}
    drop_ins = {
        "openbao": declaration("vault", "service.yml"),
        "haproxy": {"base_service_listeners": "{{ __haproxy_listeners }}", "when": "'gateway' in group_names"},
    }
    out = render(tmp_path, str(EXAMPLE), "ctl-1,gw-1", play_vars, drop_ins)
    admins = {str(address) for address in ipaddress.ip_network("10.20.9.0/24")}
    for host in ("ctl-1", "gw-1"):
        ruleset = (out / f"{host}-nftables.conf").read_text()
        assert admitted(ruleset, "tcp dport 22") == admins, ruleset

    vault = (out / "ctl-1-openbao.nft").read_text()
    members_and_monitoring = {"10.20.0.21", "10.20.0.22", "10.20.0.23", "10.20.0.31"}
    assert admitted(vault, "tcp dport 8200") == members_and_monitoring | admins, vault

    gateway = (out / "gw-1-haproxy.nft").read_text()
    assert admitted(gateway, "tcp dport 443"), gateway
    assert "dport 80 " not in gateway and "80/tcp" not in gateway, gateway


def test_no_inventory_but_the_sandbox_opens_ssh_to_any_source():
    """Only a throwaway sandbox may set SSH to any source; the example names a network."""
    sandbox = load(REPO / "inventories" / "sandbox" / "group_vars" / "all" / "main.yml")
    assert sandbox["base_firewall_ssh_sources"] == ["0.0.0.0/0", "::/0"]
    example = "".join(path.read_text() for path in (EXAMPLE / "group_vars").rglob("*.yml"))
    assert "0.0.0.0/0" not in example and "::/0" not in example


# The preflight cases of base run as one playbook in check mode, one inventory host per case with its connection
# variable as a case variable (see playbook_runner.run_cases): the check under test reads only the host's own
# variables. The passing cases run only the preflight of the role, the refused one the whole role, each play
# addressing its own cases by name; the refused play comes last, as a play whose every host fails ends the run.
REFUSED_CASE = "ssh-without-sources"
# Named sources pass over SSH; a host managed without sshd may leave them empty (no SSH port then).
PASSING_CASES = {"ssh-with-sources": ("ssh", ["10.20.9.0/24"]), "local-without-sources": ("local", None)}

PREFLIGHT_PLAYS = [
    {
        "name": "Run the preflight of base",
        "hosts": ":".join(PASSING_CASES),
        "gather_facts": False,
        # Stop right before the role gathers facts: the variable checks are what is under test.
        "vars": {"ansible_facts": {"distribution": "Debian", "distribution_major_version": "12", "os_family": "Debian",
                                   "virtualization_type": "none"}},
        "tasks": [
            {
                "name": "Run the preflight of the role",
                "ansible.builtin.include_role": {"name": "llm_infra.cluster.base", "tasks_from": "preflight"},
            }
        ],
    },
    {
        "name": "Apply base",
        "hosts": REFUSED_CASE,
        "gather_facts": False,
        "tasks": [{"name": "Apply the role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.base"}}],
    },
]


def preflight_case(connection: str, sources: list | None) -> dict:
    case_vars = {"llm_infra_private_address": "10.0.0.10", "ansible_connection": connection}
    if sources is not None:
        case_vars["base_firewall_ssh_sources"] = sources
    return case_vars


@pytest.fixture(scope="module")
def preflight_runs(tmp_path_factory):
    cases = {REFUSED_CASE: preflight_case("ssh", None)}
    cases.update({name: preflight_case(*case) for name, case in PASSING_CASES.items()})
    return run_cases(tmp_path_factory.mktemp("preflight"), PREFLIGHT_PLAYS, cases)


def test_ssh_sources_are_required_where_ansible_comes_in_over_ssh(preflight_runs):
    assert_case_fails_naming(preflight_runs[REFUSED_CASE],
                             f"base_firewall_ssh_sources is empty, and {REFUSED_CASE} is reached over ssh",
                             not_reached=("Install the baseline packages",))


@pytest.mark.parametrize("case", PASSING_CASES)
def test_ssh_sources_pass_when_named_or_not_needed(preflight_runs, case):
    run = preflight_runs[case]
    assert not run.failed, run.stdout[-3000:]
    # The preflight ran to its end on the case's host, the check under test passing.
    checked = run.task_results("Check that the admin sources of SSH are named where Ansible connects over SSH")
    assert [r["event"] for r in checked] == ["runner_on_ok"], run.stdout[-3000:]
    assert run.task_results("Load the distribution's names and paths"), run.stdout[-3000:]
    assert "base_firewall_ssh_sources is empty" not in run.stdout

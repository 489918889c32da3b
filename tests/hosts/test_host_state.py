"""The state of deployed hosts, read with testinfra: what every host of the stack must look like once it is deployed.

- every service the stack runs is sandboxed (systemd's own analysis rates it 4.9, "OK", or lower) and its main
  process carries the no-new-privileges flag that the hardening drop-in sets;
- the units the expectations name for a host run there;
- it runs as a dedicated user, not root, unless it is one of the few that need root (ROOT_UNITS, with the reason);
- nothing listens on an address other than loopback and the host's private address, apart from the management
  channel (sshd) and the ports the expectations name as facing clients (the gateway's client listener);
- no file that holds a private key can be read by other users, and the TLS keys of the pki contract
  (`/etc/llm-infra/tls/*.key`) are not writable by their group.

Run through tests/hosts/host_state.yml (by `make sandbox-test` and by molecule verifies), which renders the SSH
settings of the inventory and the expectations file (HOST_STATE_FILE, JSON): {"hosts": {NAME: {"address":
PRIVATE_ADDRESS, "public_ports": [PORT, ...], "units": [UNIT, ...]}}, "os_units": [...], "oneshot_units": [...],
"max_exposure": 4.9}. Any testinfra backend works (`--hosts=ssh://NAME` with the rendered SSH configuration, or
`docker://NAME` for a molecule host); the commands run as root (`--sudo` for SSH).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex

import pytest

# Units whose main process runs as root, and why; anything else the stack runs must not.
ROOT_UNITS = {
    # keepalived moves the virtual address and sends gratuitous ARP: it needs CAP_NET_ADMIN and raw sockets, and it
    # does not drop root itself.
    "keepalived.service": "moves the gateway's virtual address",
    # HAProxy's master process stays root to re-exec on reload; its workers run as the haproxy user
    # (test_haproxy_workers_drop_root checks that).
    "haproxy.service": "master process only; the workers run as haproxy",
}
# Processes that may listen on every address: the management channel.
WILDCARD_LISTENERS = {"sshd"}

EXPOSURE = re.compile(r"Overall exposure level for (\S+): ([0-9.]+)")


@pytest.fixture(scope="module")
def expect():
    path = os.environ.get("HOST_STATE_FILE")
    if not path:
        pytest.fail("HOST_STATE_FILE is not set: run these tests through tests/sandbox/host_state.yml")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def this_host(host, expect):
    name = host.backend.get_hostname()
    if name not in expect["hosts"]:
        pytest.fail(f"{name} is not in the expectations file {os.environ['HOST_STATE_FILE']}")
    return expect["hosts"][name]


@pytest.fixture(scope="module")
def stack_units(host, expect):
    """The running services and the stack's oneshot units, less the distribution's own base units."""
    running = host.check_output("systemctl list-units --type=service --state=running --no-legend --plain")
    units = [line.split()[0] for line in running.splitlines() if line.strip()]
    for unit in expect.get("oneshot_units", []):
        if host.run("systemctl cat %s", unit).rc == 0:
            units.append(unit)
    return sorted(set(units) - set(expect.get("os_units", [])))


def proc_status(host, pid):
    """The text of /proc/PID/status."""
    return host.check_output("cat /proc/%s/status", pid)


def main_process(host, unit):
    """(pid, /proc status text) of the unit's main process, or None when it has none (a oneshot unit)."""
    pid = host.check_output("systemctl show -p MainPID --value %s", unit).strip()
    if pid in ("", "0"):
        return None
    return pid, proc_status(host, pid)


@pytest.fixture(scope="module")
def main_processes(host, stack_units):
    """The main process of every stack unit that has one, read once for the tests below: {unit: (pid, status)}."""
    found = {}
    for unit in stack_units:
        proc = main_process(host, unit)
        if proc is not None:
            found[unit] = proc
    return found


def status_field(status, field):
    """The first value of a field of /proc/PID/status (Uid: the real user id)."""
    found = re.search(r"^%s:\s+(\S+)" % field, status, re.MULTILINE)
    return found.group(1) if found else None


def test_every_stack_unit_is_rated_ok(host, expect, stack_units):
    assert stack_units, "no unit of the stack runs on this host"
    output = host.check_output("systemd-analyze security --no-pager " + " ".join(shlex.quote(u) for u in stack_units))
    scores = dict(EXPOSURE.findall(output))
    assert sorted(scores) == stack_units, f"not rated: {sorted(set(stack_units) - set(scores))}"
    limit = expect.get("max_exposure", 4.9)
    over = {unit: score for unit, score in scores.items() if float(score) > limit}
    assert not over, f"rated above {limit}: {over} (all: {scores})"


def test_every_stack_service_runs_without_new_privileges(main_processes):
    missing = [f"{unit} (pid {pid})" for unit, (pid, status) in main_processes.items()
               if status_field(status, "NoNewPrivs") != "1"]
    assert not missing, f"main process without the no-new-privileges flag: {missing}"


def test_every_stack_service_runs_as_a_dedicated_user(main_processes):
    as_root = [unit for unit, (_pid, status) in main_processes.items()
               if status_field(status, "Uid") == "0" and unit not in ROOT_UNITS]
    assert not as_root, f"run as root: {as_root} (allowed only: {ROOT_UNITS})"


def test_haproxy_workers_drop_root(host, main_processes):
    if "haproxy.service" not in main_processes:
        pytest.skip("no HAProxy on this host")
    master_pid = main_processes["haproxy.service"][0]
    workers = host.check_output("ps -o pid= --ppid %s", master_pid).split()
    assert workers, "HAProxy's master process has no worker"
    haproxy_uid = host.user("haproxy").uid
    uids = {int(status_field(proc_status(host, pid), "Uid")) for pid in workers}
    assert uids == {haproxy_uid}, f"HAProxy workers run as uids {sorted(uids)}, not haproxy's {haproxy_uid}"


def listeners(host):
    """(protocol, local address, port, process name) of every listening TCP socket and bound UDP socket."""
    found = []
    for line in host.check_output("ss -H -l -n -p -t -u").splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        local = fields[4]
        address, port = local.rsplit(":", 1)
        address = address.strip("[]").split("%")[0]
        process = re.search(r'users:\(\("([^"]+)"', line)
        found.append((fields[0], address, port, process.group(1) if process else "?"))
    return found


def test_the_expected_units_run(this_host, stack_units):
    missing = sorted(set(this_host.get("units", [])) - set(stack_units))
    assert not missing, f"expected to run, not running (or taken for the distribution's own): {missing}"


def test_nothing_listens_beyond_loopback_and_the_private_address(host, this_host):
    private = ipaddress.ip_address(this_host["address"])
    exposed = []
    for proto, address, port, process in listeners(host):
        if address == "*":
            address = "0.0.0.0"
        ip = ipaddress.ip_address(address)
        if ip.is_loopback or ip == private:
            continue
        if ip.is_unspecified and (process in WILDCARD_LISTENERS or int(port) in this_host.get("public_ports", [])):
            continue
        exposed.append(f"{proto} {address}:{port} ({process})")
    assert not exposed, f"listening beyond loopback and {private}: {exposed}"


def file_modes(host, paths):
    """(path, permission bits, owner) of each path, read in one call rather than one round trip per file."""
    output = host.check_output("stat -c '%%a %%U %%n' --" + " %s" * len(paths), *paths)
    found = []
    for line in output.splitlines():
        mode, user, path = line.split(" ", 2)
        found.append((path, int(mode, 8), user))
    assert sorted(p for p, _m, _u in found) == sorted(paths), output
    return found


def test_private_keys_are_not_readable_by_others(host):
    # -I skips binary files, -s unreadable ones; /etc holds every key the roles write.
    found = host.run("grep -rlIs -e '-----BEGIN [A-Z ]*PRIVATE KEY-----' /etc")
    assert found.rc in (0, 1), found.stderr
    paths = found.stdout.split()
    assert paths, "no private key under /etc: the check would prove nothing"
    readable = [f"{path} {oct(mode)}" for path, mode, _user in file_modes(host, paths) if mode & 0o007]
    assert not readable, f"private keys that other users can read: {readable}"


def test_tls_keys_of_the_pki_contract_are_private(host):
    keys = host.check_output("find /etc/llm-infra/tls -maxdepth 1 -name '*.key' -type f 2>/dev/null || true").split()
    assert keys, "no TLS key under /etc/llm-infra/tls"
    wrong = [f"{path} {user} {oct(mode)}" for path, mode, user in file_modes(host, keys)
             if mode & 0o037 or user != "root"]
    assert not wrong, f"keys not 0640 root:<group> or stricter: {wrong}"

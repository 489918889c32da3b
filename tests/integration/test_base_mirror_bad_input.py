"""The base role's mirror inputs (apt_sources.yml, air-gapped sites): bad ones fail in preflight, naming the variable.

Like test_base_bad_input.py: a tiny play applies llm_infra.cluster.base to localhost in --check mode, so the
preflight asserts stop the run before the apt sources are touched.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from playbook_runner import assert_fails_naming as shared_assert_fails_naming
from playbook_runner import run_playbook


def base_play(play_vars: dict, tasks_from: str | None = None) -> list:
    role = {"name": "llm_infra.cluster.base"}
    if tasks_from:
        role["tasks_from"] = tasks_from
    return [
        {
            "name": "Apply base with mirror input",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            # Admin sources named, so that the SSH check before the mirror's passes on every connection plugin
            # (the Makefile's Mitogen strategy reports the local connection otherwise).
            "vars": {"llm_infra_private_address": "10.0.0.10", "base_firewall_ssh_sources": ["10.20.9.0/24"], **play_vars},
            "tasks": [{"name": "Apply base", "ansible.builtin.include_role": role}],
        }
    ]


def controller_files(tmp_path):
    key = tmp_path / "bundle" / "keys" / "llm-infra-mirror.asc"
    key.parent.mkdir(parents=True)
    key.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n-----END PGP PUBLIC KEY BLOCK-----\n")
    ca = tmp_path / "credentials" / "pki" / "ca.crt"
    ca.parent.mkdir(parents=True)
    ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    return {"llm_infra_bundle_dir": str(tmp_path / "bundle"), "llm_infra_credentials_dir": str(tmp_path / "credentials")}


def assert_fails_naming(result: subprocess.CompletedProcess, *needles: str) -> None:
    # Failed in the preflight, before the mirror's sources or any package.
    shared_assert_fails_naming(result, *needles, not_reached=('Switch apt to the mirror', 'Install the baseline packages'))


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://mirror-1.internal:8443", id="plain-http"),
        pytest.param("mirror-1.internal:8443", id="no-scheme"),
        pytest.param("https://user@mirror-1.internal:8443", id="user-info"),
        pytest.param("https://mirror-1.internal:8443/?dist=bookworm", id="query"),
        pytest.param("https://mirror-1.internal:8443/bundle#top", id="fragment"),
        pytest.param("https://mirror-1.internal:70000", id="port-out-of-range"),
        pytest.param("https://mirror-1.internal:0", id="port-zero"),
        pytest.param("https://mirror 1.internal", id="space-in-host"),
    ],
)
def test_bad_mirror_url(tmp_path, url):
    result = run_playbook(tmp_path, base_play({"llm_infra_mirror_url": url, **controller_files(tmp_path)}))
    assert_fails_naming(result, "base_apt_mirror_url", url)


def test_missing_key_names_the_variable_and_path(tmp_path):
    play_vars = {"llm_infra_mirror_url": "https://mirror-1.internal:8443", **controller_files(tmp_path)}
    play_vars["llm_infra_bundle_dir"] = str(tmp_path / "no-bundle")
    result = run_playbook(tmp_path, base_play(play_vars))
    assert_fails_naming(result, "base_apt_mirror_key: " + str(tmp_path / "no-bundle" / "keys" / "llm-infra-mirror.asc"))
    assert "base_apt_mirror_ca:" not in result.stdout


def test_missing_ca_names_the_variable_and_path(tmp_path):
    play_vars = {"llm_infra_mirror_url": "https://mirror-1.internal:8443", **controller_files(tmp_path)}
    play_vars["base_apt_mirror_ca"] = str(tmp_path / "nowhere" / "ca.crt")
    result = run_playbook(tmp_path, base_play(play_vars))
    assert_fails_naming(result, "base_apt_mirror_ca: " + str(tmp_path / "nowhere" / "ca.crt"), "playbooks/mirror.yml")
    assert "base_apt_mirror_key:" not in result.stdout


def test_mirror_host_needs_no_controller_key_or_ca(tmp_path):
    """A host of group mirror reads the bundle on its own disk: no controller key or CA is asked for."""
    play_vars = {"llm_infra_mirror_url": "https://mirror-1.internal:8443", "llm_infra_bundle_dir": str(tmp_path / "none"),
                 "llm_infra_credentials_dir": str(tmp_path / "none")}
    inventory = {"mirror": {"hosts": {"localhost": {}}}}
    result = run_playbook(tmp_path, base_play(play_vars, tasks_from="preflight"), inventory=inventory)
    output = result.stdout + result.stderr
    assert "base_apt_mirror" not in output.replace("TASK [llm_infra.cluster.base : Check", ""), output
    assert re.search(r"^ok: \[localhost\]", output, re.MULTILINE), output


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://mirror-1.internal:8443", id="name-and-port"),
        pytest.param("https://mirror-1.internal/", id="name-slash"),
        pytest.param("https://10.20.0.5:8443/llm-infra/bundle", id="address-and-path"),
        pytest.param("https://[2001:db8::5]:8443", id="ipv6"),
    ],
)
def test_good_mirror_url_passes_the_mirror_checks(tmp_path, url):
    result = run_playbook(tmp_path, base_play({"llm_infra_mirror_url": url, **controller_files(tmp_path)}, tasks_from="preflight"))
    output = result.stdout + result.stderr
    # The checks after them (the platform) may refuse this machine; the mirror's checks passed.
    assert "base_apt_mirror_url (" not in output, output
    assert "base_apt_mirror_key:" not in output and "base_apt_mirror_ca:" not in output, output
    # The task's header, the timing line of the profiling callback where it is on, then its result.
    checked = r"TASK \[llm_infra\.cluster\.base : Check that the mirror's key and CA are on the controller\] \**\n(?:[^\n]*\n)?ok: \[localhost\]"
    assert re.search(checked, output), output


def test_no_mirror_changes_nothing(tmp_path):
    """Without llm_infra_mirror_url every task of apt_sources.yml is skipped."""
    result = run_playbook(tmp_path, base_play({}, tasks_from="apt_sources"))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0 ", output), output
    assert not re.search(r"^(ok|changed): \[localhost\]", output, re.MULTILINE), output

"""The base role's mirror inputs (apt_sources.yml, air-gapped sites): bad ones fail in preflight, naming the variable.

Like test_base_bad_input.py: a tiny play applies llm_infra.cluster.base in --check mode, so the preflight asserts
stop the run before the apt sources are touched. The bad inputs to the role run as one playbook, and the good mirror
URLs through its preflight as another, one inventory host with a local connection per case (see
playbook_runner.run_cases), each case with controller files of its own. A mirror host (a member of group mirror)
and a site without a mirror run on their own, on localhost.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from playbook_runner import assert_case_fails_naming, run_cases, run_playbook

# Failed in the preflight, before the mirror's sources or any package.
NOT_REACHED = ("Switch apt to the mirror", "Create the folders of the key and the CA", "Install the baseline packages")

MIRROR_CHECK = "Check that the mirror's key and CA are on the controller"


def base_play(play_vars: dict, tasks_from: str | None = None, hosts: str = "localhost") -> list:
    role = {"name": "llm_infra.cluster.base"}
    if tasks_from:
        role["tasks_from"] = tasks_from
    return [
        {
            "name": "Apply base with mirror input",
            "hosts": hosts,
            "connection": "local",
            "gather_facts": False,
            # Admin sources named, so that the SSH check before the mirror's passes on every connection plugin
            # (the Makefile's Mitogen strategy reports the local connection otherwise).
            "vars": {"llm_infra_private_address": "10.0.0.10", "base_firewall_ssh_sources": ["10.20.9.0/24"],
                     **play_vars},
            "tasks": [{"name": "Apply base", "ansible.builtin.include_role": role}],
        }
    ]


def controller_files(tmp_path: Path) -> dict:
    key = tmp_path / "bundle" / "keys" / "llm-infra-mirror.asc"
    key.parent.mkdir(parents=True)
    key.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n-----END PGP PUBLIC KEY BLOCK-----\n")
    ca = tmp_path / "credentials" / "pki" / "ca.crt"
    ca.parent.mkdir(parents=True)
    ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    return {"llm_infra_bundle_dir": str(tmp_path / "bundle"),
            "llm_infra_credentials_dir": str(tmp_path / "credentials")}


BAD_URL_CASES = {
    "plain-http": "http://mirror-1.internal:8443",
    "no-scheme": "mirror-1.internal:8443",
    "user-info": "https://user@mirror-1.internal:8443",
    "query": "https://mirror-1.internal:8443/?dist=bookworm",
    "fragment": "https://mirror-1.internal:8443/bundle#top",
    "port-out-of-range": "https://mirror-1.internal:70000",
    "port-zero": "https://mirror-1.internal:0",
    "space-in-host": "https://mirror 1.internal",
}


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory) -> Path:
    """The folder of every case's own folder, named as the case."""
    return tmp_path_factory.mktemp("base-mirror")


@pytest.fixture(scope="module")
def base_runs(tmp_path_factory, base_dir):
    cases = {case: {"llm_infra_mirror_url": url, **controller_files(base_dir / case)}
             for case, url in BAD_URL_CASES.items()}
    good_url = "https://mirror-1.internal:8443"
    cases["missing-key"] = {"llm_infra_mirror_url": good_url, **controller_files(base_dir / "missing-key"),
                            "llm_infra_bundle_dir": str(base_dir / "missing-key" / "no-bundle")}
    cases["missing-ca"] = {"llm_infra_mirror_url": good_url, **controller_files(base_dir / "missing-ca"),
                           "base_apt_mirror_ca": str(base_dir / "missing-ca" / "nowhere" / "ca.crt")}
    return run_cases(tmp_path_factory.mktemp("base-mirror-run"), base_play({}, hosts="cases"), cases)


@pytest.mark.parametrize("case", BAD_URL_CASES)
def test_bad_mirror_url(base_runs, case):
    assert_case_fails_naming(base_runs[case], "base_apt_mirror_url", BAD_URL_CASES[case], not_reached=NOT_REACHED)


def test_missing_key_names_the_variable_and_path(base_dir, base_runs):
    run = base_runs["missing-key"]
    key = base_dir / "missing-key" / "no-bundle" / "keys" / "llm-infra-mirror.asc"
    assert_case_fails_naming(run, f"base_apt_mirror_key: {key}", not_reached=NOT_REACHED)
    assert "base_apt_mirror_ca:" not in run.stdout


def test_missing_ca_names_the_variable_and_path(base_dir, base_runs):
    run = base_runs["missing-ca"]
    ca = base_dir / "missing-ca" / "nowhere" / "ca.crt"
    assert_case_fails_naming(run, f"base_apt_mirror_ca: {ca}", "playbooks/mirror.yml", not_reached=NOT_REACHED)
    assert "base_apt_mirror_key:" not in run.stdout


def test_mirror_host_needs_no_controller_key_or_ca(tmp_path):
    """A host of group mirror reads the bundle on its own disk: no controller key or CA is asked for."""
    play_vars = {"llm_infra_mirror_url": "https://mirror-1.internal:8443",
                 "llm_infra_bundle_dir": str(tmp_path / "none"), "llm_infra_credentials_dir": str(tmp_path / "none")}
    inventory = {"mirror": {"hosts": {"localhost": {}}}}
    result = run_playbook(tmp_path, base_play(play_vars, tasks_from="preflight"), inventory=inventory)
    output = result.stdout + result.stderr
    assert "base_apt_mirror" not in output.replace("TASK [llm_infra.cluster.base : Check", ""), output
    assert re.search(r"^ok: \[localhost\]", output, re.MULTILINE), output


GOOD_URL_CASES = {
    "name-and-port": "https://mirror-1.internal:8443",
    "name-slash": "https://mirror-1.internal/",
    "address-and-path": "https://10.20.0.5:8443/llm-infra/bundle",
    "ipv6": "https://[2001:db8::5]:8443",
}


@pytest.fixture(scope="module")
def good_url_runs(tmp_path_factory, base_dir):
    cases = {case: {"llm_infra_mirror_url": url, **controller_files(base_dir / case)}
             for case, url in GOOD_URL_CASES.items()}
    return run_cases(tmp_path_factory.mktemp("good-url-run"), base_play({}, tasks_from="preflight", hosts="cases"),
                     cases)


@pytest.mark.parametrize("case", GOOD_URL_CASES)
def test_good_mirror_url_passes_the_mirror_checks(good_url_runs, case):
    run = good_url_runs[case]
    # The checks after them (the platform) may refuse this machine; the mirror's checks passed.
    assert "base_apt_mirror_url (" not in run.stdout, run.stdout
    assert "base_apt_mirror_key:" not in run.stdout and "base_apt_mirror_ca:" not in run.stdout, run.stdout
    checked = [r["event"] for r in run.task_results() if r.get("task", "").endswith(MIRROR_CHECK)]
    assert checked == ["runner_on_ok"], run.stdout


def test_no_mirror_changes_nothing(tmp_path):
    """Without llm_infra_mirror_url every task of apt_sources.yml is skipped."""
    result = run_playbook(tmp_path, base_play({}, tasks_from="apt_sources"))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0 ", output), output
    assert not re.search(r"^(ok|changed): \[localhost\]", output, re.MULTILINE), output

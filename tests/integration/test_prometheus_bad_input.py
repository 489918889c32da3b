"""Bad input to the prometheus role fails in preflight, before any change, naming the variable.

Each case applies the role to localhost in check mode; the preflight asserts must stop the play before the first
task that could change anything (the package install), and the message must name the variable.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook_runner import run_playbook

BASE_VARS = {"llm_infra_private_address": "127.0.0.1"}
GOOD_TARGET = {"job": "node_exporter", "host": "h1", "address": "10.0.0.1", "port": 9100, "scheme": "https", "path": "/metrics", "auth": "none"}

CASES = {
    "target_without_port": (
        {"prometheus_targets": [GOOD_TARGET, {"job": "minio", "host": "st-1", "address": "10.0.0.2", "scheme": "https"}]},
        ["prometheus_targets[1].port", "job minio", "host st-1"],
    ),
    "target_with_bad_port": (
        {"prometheus_targets": [{**GOOD_TARGET, "port": 70000}]},
        ["prometheus_targets[0].port", "70000"],
    ),
    "bearer_without_credential": (
        {"prometheus_targets": [{**GOOD_TARGET, "auth": "bearer"}]},
        ["prometheus_targets[0].credential"],
    ),
    "unknown_auth": (
        {"prometheus_targets": [{**GOOD_TARGET, "auth": "digest"}]},
        ["prometheus_targets[0].auth", "digest"],
    ),
    "retention_time_zero": (
        {"prometheus_retention_time": "0d"},
        ["prometheus_retention_time '0d'", "non-zero"],
    ),
    "retention_size_zero": (
        {"prometheus_retention_size": "0GB"},
        ["prometheus_retention_size '0GB'", "non-zero"],
    ),
    "unknown_rule_set": (
        {"prometheus_rule_sets": ["hosts", "kafka"]},
        ["prometheus_rule_sets", "unknown: kafka"],
    ),
    "binary_without_sha256": (
        {"prometheus_install_method": "binary"},
        ["artifact prometheus 2.53.3", "has no valid sha256", "set prometheus_binary_sha256", "sha256sums.txt"],
    ),
    "alertmanager_without_port": (
        {"prometheus_alertmanagers": ["10.0.0.1"]},
        ["prometheus_alertmanagers", "10.0.0.1"],
    ),
}


def run_role(tmp_path: Path, role_vars: dict):
    play = [
        {
            "name": "Apply the prometheus role with bad input",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": True,
            "vars": {**BASE_VARS, **role_vars},
            "tasks": [{"name": "Apply the role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.prometheus"}}],
        }
    ]
    return run_playbook(tmp_path, play)


def assert_stopped_in_preflight(result, expected):
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for text in expected:
        assert text in output, f"{text!r} not in the failure:\n{output[-3000:]}"
    # Nothing after preflight ran: no package task, no file written.
    assert "Install Prometheus from the distribution" not in output, output[-3000:]
    assert "changed=0" in output, output[-3000:]


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_early(tmp_path, case):
    role_vars, expected = CASES[case]
    assert_stopped_in_preflight(run_role(tmp_path, role_vars), expected)


def test_rule_file_that_does_not_parse(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text("groups:\n  - name: ok\n    rules:\n      - alert: A\n        expr: up == 0\n")
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: site\n    rules:\n      - alert: X\n        expr: [up == 0\n")
    result = run_role(tmp_path, {"prometheus_extra_rule_files": [str(good), str(broken)]})
    assert_stopped_in_preflight(result, ["prometheus_extra_rule_files[1]", "broken.yml", "does not parse as YAML"])


def test_rule_without_expr(tmp_path):
    rules = tmp_path / "noexpr.yml"
    rules.write_text("groups:\n  - name: site\n    rules:\n      - alert: X\n")
    result = run_role(tmp_path, {"prometheus_extra_rule_files": [str(rules)]})
    assert_stopped_in_preflight(result, ["prometheus_extra_rule_files[0]", "group 'site' rules[0] has no expr"])

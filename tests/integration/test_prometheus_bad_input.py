"""Bad input to the prometheus role fails in preflight, before any change, naming the variable.

The cases apply the role in check mode as one playbook, one inventory host with a local connection per case (see
playbook_runner.run_cases); the preflight asserts must stop each case's host before the first task that could
change anything (the package install), and the message must name the variable.
"""

from __future__ import annotations

import pytest

from playbook_runner import assert_case_fails_naming, run_cases

BASE_VARS = {"llm_infra_private_address": "127.0.0.1"}
GOOD_TARGET = {"job": "node_exporter", "host": "h1", "address": "10.0.0.1", "port": 9100, "scheme": "https", "path": "/metrics", "auth": "none"}

PLAY = [
    {
        "name": "Apply the prometheus role with bad input",
        "hosts": "cases",
        "gather_facts": True,
        "vars": BASE_VARS,
        "tasks": [{"name": "Apply the role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.prometheus"}}],
    }
]

# The extra rule files of the cases, written into the batch's folder before the run.
RULE_FILES = {
    "good.yml": "groups:\n  - name: ok\n    rules:\n      - alert: A\n        expr: up == 0\n",
    "broken.yml": "groups:\n  - name: site\n    rules:\n      - alert: X\n        expr: [up == 0\n",
    "noexpr.yml": "groups:\n  - name: site\n    rules:\n      - alert: X\n",
}

CASES = {
    "target-without-port": (
        {"prometheus_targets": [GOOD_TARGET, {"job": "minio", "host": "st-1", "address": "10.0.0.2", "scheme": "https"}]},
        ["prometheus_targets[1].port", "job minio", "host st-1"],
    ),
    "target-with-bad-port": (
        {"prometheus_targets": [{**GOOD_TARGET, "port": 70000}]},
        ["prometheus_targets[0].port", "70000"],
    ),
    "bearer-without-credential": (
        {"prometheus_targets": [{**GOOD_TARGET, "auth": "bearer"}]},
        ["prometheus_targets[0].credential"],
    ),
    "unknown-auth": (
        {"prometheus_targets": [{**GOOD_TARGET, "auth": "digest"}]},
        ["prometheus_targets[0].auth", "digest"],
    ),
    "retention-time-zero": (
        {"prometheus_retention_time": "0d"},
        ["prometheus_retention_time '0d'", "non-zero"],
    ),
    "retention-size-zero": (
        {"prometheus_retention_size": "0GB"},
        ["prometheus_retention_size '0GB'", "non-zero"],
    ),
    "unknown-rule-set": (
        {"prometheus_rule_sets": ["hosts", "kafka"]},
        ["prometheus_rule_sets", "unknown: kafka"],
    ),
    "binary-without-sha256": (
        {"prometheus_install_method": "binary"},
        ["artifact prometheus 2.53.3", "has no valid sha256", "set prometheus_binary_sha256", "sha256sums.txt"],
    ),
    "alertmanager-without-port": (
        {"prometheus_alertmanagers": ["10.0.0.1"]},
        ["prometheus_alertmanagers", "10.0.0.1"],
    ),
    # prometheus_extra_rule_files names files of RULE_FILES: the fixture gives their paths in the batch's folder.
    "rule-file-that-does-not-parse": (
        {"prometheus_extra_rule_files": ["good.yml", "broken.yml"]},
        ["prometheus_extra_rule_files[1]", "broken.yml", "does not parse as YAML"],
    ),
    "rule-without-expr": (
        {"prometheus_extra_rule_files": ["noexpr.yml"]},
        ["prometheus_extra_rule_files[0]", "group 'site' rules[0] has no expr"],
    ),
}


@pytest.fixture(scope="module")
def prometheus_runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("prometheus")
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for name, text in RULE_FILES.items():
        (rules_dir / name).write_text(text)
    cases = {}
    for case, (role_vars, _needles) in CASES.items():
        if "prometheus_extra_rule_files" in role_vars:
            paths = [str(rules_dir / name) for name in role_vars["prometheus_extra_rule_files"]]
            role_vars = {**role_vars, "prometheus_extra_rule_files": paths}
        cases[case] = role_vars
    return run_cases(tmp_path, PLAY, cases)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_early(prometheus_runs, case):
    # Nothing after preflight ran: no package task, no file written.
    assert_case_fails_naming(prometheus_runs[case], *CASES[case][1],
                             not_reached=("Install Prometheus from the distribution",))

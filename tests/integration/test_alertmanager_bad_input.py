"""Bad input to the alertmanager role fails in preflight, before any change, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook_runner import run_playbook

BASE_VARS = {"llm_infra_private_address": "127.0.0.1"}

CASES = {
    "unknown_receiver_type": (
        {
            "alertmanager_receivers": [
                {"name": "null", "type": "none"},
                {"name": "pager", "type": "pagerduty", "routing_key": "x"},
            ]
        },
        ["alertmanager_receivers[1].type", '"pagerduty"', "not a known receiver type"],
    ),
    "webhook_without_url": (
        {"alertmanager_receivers": [{"name": "null", "type": "none"}, {"name": "hook", "type": "webhook"}]},
        ["alertmanager_receivers[1] (webhook) needs url"],
    ),
    "route_to_missing_receiver": (
        {
            "alertmanager_route": {
                "receiver": "null",
                "routes": [{"matchers": ['severity = "critical"'], "receiver": "oncall"}],
            }
        },
        ["alertmanager_route", "oncall"],
    ),
    "retention_zero": (
        {"alertmanager_data_retention": "0h"},
        ["alertmanager_data_retention '0h'"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_early(tmp_path: Path, case):
    role_vars, expected = CASES[case]
    play = [
        {
            "name": "Apply the alertmanager role with bad input",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": True,
            "vars": {**BASE_VARS, **role_vars},
            "tasks": [{"name": "Apply the role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.alertmanager"}}],
        }
    ]
    result = run_playbook(tmp_path, play)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for text in expected:
        assert text in output, f"{text!r} not in the failure:\n{output[-3000:]}"
    assert "Install Alertmanager" not in output, output[-3000:]
    assert "changed=0" in output, output[-3000:]

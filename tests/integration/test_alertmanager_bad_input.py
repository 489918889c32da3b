"""Bad input to the alertmanager role fails in preflight, before any change, naming the variable.

The cases run as one playbook in --check mode, one inventory host with a local connection per case (see
playbook_runner.run_cases): each case's variables outrank the play's, and the preflight must stop its host before
the package install.
"""

from __future__ import annotations

import pytest

from playbook_runner import assert_case_fails_naming, run_cases

BASE_VARS = {"llm_infra_private_address": "127.0.0.1"}

PLAY = [
    {
        "name": "Apply the alertmanager role with bad input",
        "hosts": "cases",
        "gather_facts": True,
        "vars": BASE_VARS,
        "tasks": [
            {"name": "Apply the role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.alertmanager"}}
        ],
    }
]

CASES = {
    "unknown-receiver-type": (
        {
            "alertmanager_receivers": [
                {"name": "null", "type": "none"},
                {"name": "pager", "type": "pagerduty", "routing_key": "x"},
            ]
        },
        ["alertmanager_receivers[1].type", '"pagerduty"', "not a known receiver type"],
    ),
    "webhook-without-url": (
        {"alertmanager_receivers": [{"name": "null", "type": "none"}, {"name": "hook", "type": "webhook"}]},
        ["alertmanager_receivers[1] (webhook) needs url"],
    ),
    "route-to-missing-receiver": (
        {
            "alertmanager_route": {
                "receiver": "null",
                "routes": [{"matchers": ['severity = "critical"'], "receiver": "oncall"}],
            }
        },
        ["alertmanager_route", "oncall"],
    ),
    "retention-zero": (
        {"alertmanager_data_retention": "0h"},
        ["alertmanager_data_retention '0h'"],
    ),
}


@pytest.fixture(scope="module")
def alertmanager_runs(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("alertmanager"), PLAY,
                     {case: role_vars for case, (role_vars, _needles) in CASES.items()})


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_early(alertmanager_runs, case):
    assert_case_fails_naming(alertmanager_runs[case], *CASES[case][1], not_reached=("Install Alertmanager",))

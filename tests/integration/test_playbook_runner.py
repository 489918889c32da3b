"""The shared runner: check mode, extra vars over play vars, the task results in its events, its timeout, nothing
of the run left outside the test's directory, and the session's signal handlers left alone."""

from __future__ import annotations

import signal
import subprocess

import pytest

from playbook_runner import (assert_case_fails_naming, assert_fails_naming, failure_messages, run_cases, run_playbook,
                             run_processes)


def play(tasks: list, play_vars: dict | None = None) -> list:
    return [{"name": "Runner check", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": play_vars or {}, "tasks": tasks}]


def test_task_results_and_check_mode(tmp_path):
    dest = tmp_path / "written.txt"
    result = run_playbook(tmp_path, play([
        {"name": "Write a file", "ansible.builtin.copy": {"content": "x\n", "dest": str(dest), "mode": "0600"}},
        {"name": "Show the value", "ansible.builtin.debug": {"msg": "value={{ value }}"}},
    ], {"value": "from the play"}), extra_vars={"value": "from the extra vars"})
    assert result.returncode == 0, result.stdout
    written = result.task_results("Write a file")
    assert [(r["event"], r["host"], r["res"]["changed"]) for r in written] == [("runner_on_ok", "localhost", True)]
    # Check mode: the change is reported, not made.
    assert not dest.exists()
    assert result.task_results("Show the value")[0]["res"]["msg"] == "value=from the extra vars"
    assert result.started_tasks() == ["Write a file", "Show the value"]
    assert result.failed_tasks() == []
    assert "TASK [Show the value]" in result.stdout and "\r" not in result.stdout


def test_a_failed_task_in_the_events(tmp_path):
    result = run_playbook(tmp_path, play([
        {"name": "Check the items", "ansible.builtin.assert": {"that": ["item < 2"], "fail_msg": "item {{ item }} is too big"},
         "loop": [1, 2]},
        {"name": "Never reached", "ansible.builtin.debug": {"msg": "no"}},
    ]))
    (failed,) = result.failed_tasks()
    assert failed["task"] == "Check the items"
    assert "item 2 is too big" in failure_messages(failed)
    assert_fails_naming(result, "item 2 is too big", not_reached=("Never reached",))
    with pytest.raises(AssertionError):
        # Named in the output (the loop's items) but not by the failure.
        assert_fails_naming(result, "'item': 1")


def test_timeout(tmp_path):
    with pytest.raises(subprocess.TimeoutExpired):
        run_playbook(tmp_path, play([{"name": "Sleep", "ansible.builtin.command": {"argv": ["sleep", "30"]}}]),
                     check=False, timeout=3)
    # Nothing of the run goes on: not ansible-playbook's forked controller, not the module's sleep.
    (artifacts,) = next(tmp_path.glob("runner-*")).joinpath("artifacts").iterdir()
    assert run_processes(str(artifacts)) == []


def test_artifacts_stay_in_the_test_directory(tmp_path):
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    run_playbook(tmp_path, play([{"name": "Say", "ansible.builtin.debug": {"msg": "hi"}}]))
    # Ctrl-C still stops the session.
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    (private,) = tmp_path.glob("runner-*")
    (artifacts,) = (private / "artifacts").iterdir()
    assert any((artifacts / "job_events").iterdir())
    # No record of the machine's environment, and no fact cache on disk.
    assert not (artifacts / "command").exists() and not (artifacts / "fact_cache").exists()


def test_cases_run_in_one_playbook_and_stay_apart(tmp_path):
    plays = [{"name": "Cases", "hosts": "cases", "gather_facts": False, "vars": {"limit": 10, "value": 0}, "tasks": [
        {"name": "Check the value",
         "ansible.builtin.assert": {"that": ["value | int < limit"], "fail_msg": "value {{ value }} is too big"}},
        {"name": "After the check", "ansible.builtin.debug": {"msg": "{{ value }}"}},
    ]}]
    runs = run_cases(tmp_path, plays,
                     {"small": {"value": 1}, "big": {"value": 20}, "limit-raised": {"value": 20, "limit": 30}})
    # One ansible-playbook run for all of them.
    assert len(list(tmp_path.glob("runner-*"))) == 1
    assert_case_fails_naming(runs["big"], "value 20 is too big", not_reached=("After the check",))
    # The case's variables outrank the play's, as extra vars would; each host sees only its own.
    assert not runs["small"].failed and not runs["limit-raised"].failed
    assert [r["res"]["msg"] for r in runs["small"].task_results("After the check")] == [1]
    assert "value 20 is too big" not in runs["small"].stdout and "value 20 is too big" in runs["big"].stdout
    with pytest.raises(AssertionError):
        assert_case_fails_naming(runs["small"], "too big")
    with pytest.raises(AssertionError):
        assert_case_fails_naming(runs["big"], "value 1 ")
    with pytest.raises(AssertionError):
        assert_case_fails_naming(runs["big"], "too big", not_reached=("Check the value",))


def test_a_case_that_changes_something_before_it_fails(tmp_path):
    plays = [{"name": "Cases", "hosts": "all", "gather_facts": False, "tasks": [
        {"name": "Write", "ansible.builtin.copy": {"content": "x", "dest": str(tmp_path / "{{ inventory_hostname }}"),
                                                   "mode": "0600"}},
        {"name": "Then fail", "ansible.builtin.fail": {"msg": "stop here"}},
    ]}]
    runs = run_cases(tmp_path, plays, {"one": {}})
    with pytest.raises(AssertionError, match="changed something"):
        assert_case_fails_naming(runs["one"], "stop here")


def test_case_names_are_host_names(tmp_path):
    with pytest.raises(ValueError, match="not a host name"):
        run_cases(tmp_path, [], {"Bad_Name": {}})


def test_cases_have_the_machines_facts_without_gathering_them(tmp_path):
    plays = [{"name": "Cases", "hosts": "cases", "gather_facts": True, "tasks": [
        {"name": "Show a fact", "ansible.builtin.debug": {"msg": "{{ ansible_facts['distribution'] }}"}},
    ]}]
    runs = run_cases(tmp_path, plays, {"one": {}, "two": {}})
    for run in runs.values():
        assert not run.failed, run.stdout
        # The play asks for facts, and the cache already holds them: no gathering task ran for any case.
        assert not run.task_results("Gathering Facts"), run.stdout
        assert [r["res"]["msg"] for r in run.task_results("Show a fact")] != [""]
        assert len(run.task_results("Show a fact")) == 1

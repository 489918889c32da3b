"""The shared runner: check mode, extra vars over play vars, the task results in its events, its timeout, nothing
of the run left outside the test's directory, and the session's signal handlers left alone."""

from __future__ import annotations

import signal
import subprocess

import pytest

from playbook_runner import assert_fails_naming, failure_messages, run_playbook, run_processes


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

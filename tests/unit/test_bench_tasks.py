"""bench/tasks.py counts tasks, results and changes and times the slowest tasks from ansible-runner's events."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_tasks", REPO / "bench" / "tasks.py")
bench_tasks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_tasks)


def _result(counter, kind, task_uuid, host, start, end, changed=False):
    return {"counter": counter, "event": kind, "event_data": {
        "task_uuid": task_uuid, "host": host, "res": {"changed": changed},
        "start": f"2026-01-01T00:00:{start:06.3f}+00:00", "end": f"2026-01-01T00:00:{end:06.3f}+00:00"}}


def test_a_task_lasts_from_its_first_host_start_to_its_last_host_end():
    events = [
        {"counter": 1, "event": "playbook_on_task_start", "event_data": {"task_uuid": "a", "task": "Install", "play": "p1"}},
        _result(2, "runner_on_ok", "a", "h1", 1.0, 2.0, changed=True),
        _result(3, "runner_on_ok", "a", "h2", 1.5, 4.5),
        # The same task name in a second play is a task of its own.
        {"counter": 4, "event": "playbook_on_task_start", "event_data": {"task_uuid": "b", "task": "Install", "play": "p2"}},
        _result(5, "runner_on_skipped", "b", "h1", 5.0, 5.1),
        {"counter": 6, "event": "playbook_on_task_start", "event_data": {"task_uuid": "c", "task": "Check", "play": "p2"}},
        _result(7, "runner_on_failed", "c", "h1", 6.0, 8.0),
        {"counter": 8, "event": "playbook_on_stats", "event_data": {"processed": {"h1": 1, "h2": 1}, "changed": {"h1": 1}}},
    ]
    # Events read back from files come in any order.
    report = bench_tasks.summarize(list(reversed(events)), top=2)
    assert report["tasks"] == 3
    assert report["results"] == 4
    assert report["by_status"] == {"ok": 2, "failed": 1, "skipped": 1, "unreachable": 0}
    assert report["changed"] == 1 and report["recap_changed"] == 1
    assert report["hosts"] == 2
    assert [(t["task"], t["play"], t["hosts"], t["seconds"]) for t in report["slowest"]] == [
        ("Install", "p1", 2, 3.5), ("Check", "p2", 1, 2.0)]
    assert report["task_seconds"] == 5.6


def test_a_local_run_through_the_runner(tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    playbook = tmp_path / "play.json"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Say hello", "ansible.builtin.debug": {"msg": "hello"}},
        {"name": "Change something", "ansible.builtin.copy": {"content": "x\n", "dest": str(tmp_path / "out.txt"),
                                                              "mode": "0600"}},
        {"name": "Take a second", "ansible.builtin.command": {"argv": ["sleep", "1"]}, "changed_when": False},
        {"name": "Never runs", "ansible.builtin.debug": {"msg": "no"}, "when": False},
    ]}]))
    runner = bench_tasks.run(str(playbook), str(inventory), [], tmp_path / "run", quiet=True)
    assert runner.rc == 0, runner.stdout.read()
    report = bench_tasks.summarize(list(runner.events), top=3)
    assert report["tasks"] == 4
    assert report["by_status"] == {"ok": 3, "failed": 0, "skipped": 1, "unreachable": 0}
    assert report["changed"] == 1 and report["recap_changed"] == 1
    seconds = {t["task"]: t["seconds"] for t in report["slowest"]}
    # The first module run also pays for starting the connection: the sleep need not come first.
    assert seconds["Take a second"] >= 1.0, report
    assert [t["seconds"] for t in report["slowest"]] == sorted(seconds.values(), reverse=True)
    assert "Take a second" in bench_tasks.format_report(report)
    # The runner's artifacts stay in the run's directory, without the record of the environment.
    artifacts = list((tmp_path / "run" / "artifacts").iterdir())
    assert len(artifacts) == 1 and not (artifacts[0] / "command").exists()
    # The kept events give the same report again.
    assert bench_tasks.summarize(bench_tasks.read_events(tmp_path / "run"), top=3) == report

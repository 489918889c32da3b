#!/usr/bin/env python
"""Where a playbook run spends its time: runs it through ansible-runner and reports, from the event stream, the
tasks run, the task results and changes summed over the hosts, and the slowest tasks with their durations.

A task's duration is its wall time over all its hosts (first start to last end), as the play waits for the last
host before the next task; a task that runs in several plays counts once per play.

Usage (the venv's Python: it imports ansible_runner; `make venv` first):
  .venv/bin/python bench/tasks.py [--playbook P] [-i INVENTORY] [--top N] [--quiet] [--json] [-- ARGS...]
  (default: playbooks/site.yml on inventories/sandbox, as `make sandbox` runs it, on a deployed sandbox)
  .venv/bin/python bench/tasks.py --top 10                             the no-op converge of the running sandbox
  .venv/bin/python bench/tasks.py --playbook playbooks/verify.yml
  .venv/bin/python bench/tasks.py -- -e sandbox_engine=vllm            arguments after -- go to ansible-playbook
  .venv/bin/python bench/tasks.py --events tests/output/bench-tasks/R  the report of an earlier run, from its events
The run's output streams to the terminal (--quiet: not); its events stay under tests/output/bench-tasks/<run>/
with the runner's other artifacts (the record of the run's environment excepted).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "tests" / "output" / "bench-tasks"
RESULT_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
}


def _time(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp)


def summarize(events: list[dict], top: int = 15) -> dict:
    """The report of one run from its runner events (dicts as ansible-runner yields them, in any order)."""
    events = sorted(events, key=lambda e: e.get("counter", 0))
    tasks: dict[str, dict] = {}
    results = {name: 0 for name in RESULT_EVENTS.values()}
    changed = 0
    for event in events:
        data = event.get("event_data") or {}
        kind = event.get("event")
        if kind == "playbook_on_task_start":
            # A task uuid is its play's copy of the task: the same task in two plays is two entries.
            tasks.setdefault(data.get("task_uuid", data.get("uuid", "")), {
                "task": data.get("task", ""), "play": data.get("play", ""), "action": data.get("task_action", ""),
                "path": data.get("task_path", ""), "hosts": 0, "start": None, "end": None})
        elif kind in RESULT_EVENTS:
            results[RESULT_EVENTS[kind]] += 1
            res = data.get("res") or {}
            if kind == "runner_on_ok" and res.get("changed"):
                changed += 1
            task = tasks.get(data.get("task_uuid", ""))
            if task is None or not data.get("start") or not data.get("end"):
                continue
            start, end = _time(data["start"]), _time(data["end"])
            task["hosts"] += 1
            task["start"] = start if task["start"] is None else min(task["start"], start)
            task["end"] = end if task["end"] is None else max(task["end"], end)
    timed = [dict(t, duration=(t["end"] - t["start"]).total_seconds()) for t in tasks.values() if t["start"]]
    timed.sort(key=lambda t: t["duration"], reverse=True)
    stats = next((e.get("event_data") or {} for e in events if e.get("event") == "playbook_on_stats"), {})
    return {
        "tasks": len(tasks),
        "results": sum(results.values()),
        "changed": changed,
        "by_status": results,
        "hosts": len(stats.get("processed") or {}),
        # The recap's count of changes, which also counts handlers and changes ansible reports without a result.
        "recap_changed": sum((stats.get("changed") or {}).values()),
        "task_seconds": round(sum(t["duration"] for t in timed), 3),
        "slowest": [{"task": t["task"], "play": t["play"], "action": t["action"], "hosts": t["hosts"],
                     "seconds": round(t["duration"], 3)} for t in timed[:top]],
    }


def format_report(report: dict) -> str:
    by_status = report["by_status"]
    lines = [
        f"tasks {report['tasks']}   task results {report['results']} on {report['hosts']} host(s): "
        + ", ".join(f"{name} {by_status[name]}" for name in by_status)
        + f"   changed {report['changed']} (recap {report['recap_changed']})   time in tasks {report['task_seconds']:.1f}s",
        "",
        f"{'seconds':>9}  {'hosts':>5}  task",
    ]
    for task in report["slowest"]:
        lines.append(f"{task['seconds']:9.2f}  {task['hosts']:5d}  {task['task']}   [{task['play']}]")
    return "\n".join(lines)


def run(playbook: str, inventory: str, extra_args: list[str], private_data_dir: Path, quiet: bool = False):
    """Run the playbook as the Makefile does, through ansible-runner; returns the finished runner."""
    # The integration tests' runner: the settings every run needs, and the end of a run the runner gave up on.
    # Imported here: --events and the tests of summarize need no runner.
    sys.path.insert(0, str(REPO / "tests" / "integration"))
    from playbook_runner import end_run, start_runner

    private_data_dir.mkdir(parents=True, exist_ok=True)
    venv_bin = REPO / ".venv" / "bin"
    envvars = {"ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    # The strategy the Makefile runs playbooks with (ANSIBLE_STRATEGY=linear measures Ansible's own).
    envvars["ANSIBLE_STRATEGY_PLUGINS"] = os.environ.get("ANSIBLE_STRATEGY_PLUGINS", str(REPO / ".venv" / "mitogen-strategy"))
    envvars["ANSIBLE_STRATEGY"] = os.environ.get("ANSIBLE_STRATEGY", "mitogen_linear")
    # The venv first on PATH, as the Makefile puts it: the playbooks call its tools on the controller.
    envvars["PATH"] = os.pathsep.join([str(venv_bin), os.environ.get("PATH", "")])
    runner = start_runner(
        private_data_dir=str(private_data_dir),
        project_dir=str(REPO),
        binary=str(venv_bin / "ansible-playbook"),
        cmdline=shlex.join(["-i", inventory, *extra_args, playbook]),
        envvars=envvars,
        # Ansible's own (memory) fact cache, not the runner's jsonfile one: the run is timed as the Makefile's.
        fact_cache_type="memory",
        quiet=quiet,
    )
    if runner.status == "canceled":
        end_run(runner.config.artifact_dir)
    return runner


def read_events(directory: Path) -> list[dict]:
    """The events an earlier run left: DIR/job_events, or DIR/artifacts/<ident>/job_events of a private data dir."""
    found = sorted(directory.glob("job_events/*.json")) or sorted(directory.glob("artifacts/*/job_events/*.json"))
    if not found:
        raise SystemExit(f"no job_events under {directory}")
    return [json.loads(path.read_text()) for path in found]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--playbook", default="playbooks/site.yml")
    parser.add_argument("-i", "--inventory", default="inventories/sandbox/hosts.yml")
    parser.add_argument("--top", type=int, default=15, help="how many of the slowest tasks to list")
    parser.add_argument("--quiet", action="store_true", help="do not stream the playbook's output")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--events", type=Path, help="report on the kept events of an earlier run instead of running")
    parser.add_argument("extra", nargs="*", help="arguments for ansible-playbook, after --")
    args = parser.parse_args(argv)
    rc = 0
    if args.events:
        events = read_events(args.events)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
        runner = run(args.playbook, args.inventory, args.extra, OUTPUT / stamp, quiet=args.quiet)
        events = list(runner.events)
        rc = runner.rc
        print(f"\n{args.playbook}: {runner.status} (rc {rc}), events under {OUTPUT / stamp}", file=sys.stderr)
    report = summarize(events, top=args.top)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return rc


if __name__ == "__main__":
    sys.exit(main())

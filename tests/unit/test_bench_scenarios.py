"""bench/scenarios.py reads the time of each task from the profile_tasks stamps of a molecule log."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_scenarios", REPO / "bench" / "scenarios.py")
bench_scenarios = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_scenarios)

# A molecule log as written by `molecule test`: colours, the frame around each playbook, wrapped task headers, and
# under each header the time the task before it took.
LOG = """\x1b[36mINFO    \x1b[0m \x1b[32mdemo\x1b[0m \u279c \x1b[33mcreate\x1b[0m: \x1b[36mExecuting\x1b[0m
  \x1b[2m\u2502\x1b[0m TASK [llm_infra.cluster.sandbox : Start the containers]
  \x1b[2m\u2502\x1b[0m   ****
  \x1b[2m\u2502\x1b[0m Wednesday 02 December 2026  07:57:13 +0000 (0:00:00.617)       0:00:00.617
  \x1b[2m\u2502\x1b[0m TASK [llm_infra.cluster.sandbox : Wait until systemd has booted]
  \x1b[2m\u2502\x1b[0m Wednesday 02 December 2026  07:57:16 +0000 (0:00:03.250)       0:00:03.867
  \x1b[2m\u2502\x1b[0m PLAY RECAP
\x1b[36mINFO    \x1b[0m \x1b[32mdemo\x1b[0m \u279c \x1b[33mconverge\x1b[0m: \x1b[36mExecuting\x1b[0m
  \x1b[2m\u2502\x1b[0m TASK [llm_infra.cluster.base : Install the baseline
  \x1b[2m\u2502\x1b[0m   packages] ****
  \x1b[2m\u2502\x1b[0m Wednesday 02 December 2026  07:58:00 +0000 (0:00:00.100)       0:00:00.100
  \x1b[2m\u2502\x1b[0m RUNNING HANDLER [llm_infra.cluster.base : Reload nftables] ****
  \x1b[2m\u2502\x1b[0m Wednesday 02 December 2026  07:58:40 +0000 (0:01:02.500)       0:01:02.600
  \x1b[2m\u2502\x1b[0m TASK [Check the listener]
  \x1b[2m\u2502\x1b[0m Wednesday 02 December 2026  07:58:42 +0000 (0:00:02.000)       0:01:04.600
  \x1b[2m\u2502\x1b[0m TASK [Last task, timed only in the recap]
  \x1b[2m\u2502\x1b[0m Wednesday 02 December 2026  07:58:43 +0000 (0:00:01.000)       0:01:05.600
"""


def test_each_task_gets_the_time_printed_under_the_next_header():
    timed = bench_scenarios.parse(LOG.splitlines())
    assert timed == [
        ("create", "llm_infra.cluster.sandbox : Start the containers", 3.25),
        ("converge", "llm_infra.cluster.base : Install the baseline packages", 62.5),
        ("converge", "llm_infra.cluster.base : Reload nftables", 2.0),
        ("converge", "Check the listener", 1.0),
    ]


def test_the_report_sums_steps_and_roles(tmp_path):
    log = tmp_path / "demo.log"
    log.write_text(LOG)
    report = bench_scenarios.report([str(log)], top=2)
    assert "== demo: 69 s in 4 timed tasks" in report
    assert "create           3.2 s     1 tasks" in report
    assert "converge        65.5 s     3 tasks" in report
    assert "62.5 s  converge    llm_infra.cluster.base : Install the baseline packages" in report
    # --top 2: the third task of the scenario is left out of its list.
    assert "Check the listener" not in report
    roles = report.split("== per role, over all scenarios given")[1]
    assert [line.split() for line in roles.splitlines()[1:]] == [
        ["64.5", "s", "llm_infra.cluster.base"], ["3.2", "s", "llm_infra.cluster.sandbox"], ["1.0", "s", "(playbook)"]]


def test_no_log_is_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert bench_scenarios.main([]) == 2
    assert "no molecule log" in capsys.readouterr().err

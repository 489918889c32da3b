"""Where the molecule scenarios spend their time, from their logs (profile_tasks timings).

Usage: python3 bench/scenarios.py [--top N] [tests/output/molecule/*.log]

For each scenario: the seconds of each molecule step (destroy, create, converge, idempotence, verify) and its task
count, then its slowest tasks. Then, over every scenario given, the seconds spent per role (the `role : ` prefix of
the task names; plays' own tasks count as "(playbook)"), to show which role's cost is paid in every scenario.

profile_tasks prints, under each task's header, the time the previous task took: so a task's time is read from the
header that follows it, and the last task of each playbook run is not counted (its time is printed in the recap).
"""

from __future__ import annotations

import argparse
import collections
import glob
import re
import sys
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Molecule frames each playbook's output in box-drawing characters.
FRAME = " \u2502\u250c\u2514\u2500"
STEP = re.compile(r"\u279c (\w+): Executing")
HEADER = re.compile(r"^(TASK|RUNNING HANDLER) \[(.*)$")
STAMP = re.compile(r"\((\d+):(\d+):(\d+(?:\.\d+)?)\)\s+\d+:\d+:\d+(?:\.\d+)?")


def clean(line: str) -> str:
    return ANSI.sub("", line).lstrip(FRAME).rstrip()


def parse(lines: list[str]) -> list[tuple[str, str, float]]:
    """(step, task name, seconds) of every timed task, in order."""
    lines = [clean(line) for line in lines]
    timed = []
    step, task = "", None
    for i, line in enumerate(lines):
        found = STEP.search(line)
        if found:
            step, task = found.group(1), None
            continue
        header = HEADER.match(line)
        if not header:
            continue
        # A long header wraps over a few lines before its time stamp.
        name, j = header.group(2), i + 1
        while j < len(lines) and j < i + 5 and not STAMP.search(lines[j]):
            name += " " + lines[j].strip()
            j += 1
        stamp = STAMP.search(lines[j]) if j < len(lines) else None
        if stamp and task is not None:
            hours, minutes, seconds = stamp.groups()
            timed.append((task[0], task[1], int(hours) * 3600 + int(minutes) * 60 + float(seconds)))
        name = re.sub(r"\]?\s*\*+\s*$", "", name.replace("*", " ").strip()).rstrip("] ").strip()
        task = (step, name)
    return timed


def role_of(task: str) -> str:
    return task.split(" : ", 1)[0] if " : " in task else "(playbook)"


def report(paths: list[str], top: int) -> str:
    out = []
    roles = collections.Counter()
    for path in paths:
        timed = parse(Path(path).read_text(errors="replace").splitlines())
        steps = collections.OrderedDict()
        tasks = collections.Counter()
        for step, task, seconds in timed:
            total, count = steps.get(step, (0.0, 0))
            steps[step] = (total + seconds, count + 1)
            tasks[(step, task)] += seconds
            roles[role_of(task)] += seconds
        out.append(f"== {Path(path).stem}: {sum(entry[2] for entry in timed):.0f} s in {len(timed)} timed tasks")
        for step, (seconds, count) in steps.items():
            out.append(f"   {step:<12} {seconds:7.1f} s  {count:4d} tasks")
        for (step, task), seconds in tasks.most_common(top):
            out.append(f"   {seconds:7.1f} s  {step:<11} {task[:140]}")
    out.append("== per role, over all scenarios given")
    for role, seconds in roles.most_common():
        out.append(f"   {seconds:7.1f} s  {role}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("logs", nargs="*", help="molecule logs (default: tests/output/molecule/*.log)")
    parser.add_argument("--top", type=int, default=10, help="slowest tasks shown per scenario")
    args = parser.parse_args(argv)
    paths = args.logs or sorted(glob.glob("tests/output/molecule/*.log"))
    if not paths:
        print("bench/scenarios.py: no molecule log given or found under tests/output/molecule", file=sys.stderr)
        return 2
    print(report(paths, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())

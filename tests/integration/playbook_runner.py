"""Shared runner for the integration tests: ansible-playbook from the test venv, on a generated playbook.

A module of its own rather than conftest.py: the unit tests have a conftest of their own, and `make unit` collects
both folders in one run, where two modules named conftest cannot both be imported by that name.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
if not ANSIBLE_PLAYBOOK.exists():
    # pytest started by a Python outside the venv: use the venv of the repository.
    ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"


def run_playbook(
    tmp_path: Path,
    plays: list,
    *,
    inventory: str | dict = "localhost,",
    extra_vars: dict | None = None,
    check: bool = True,
    timeout: int = 300,
) -> subprocess.CompletedProcess:
    """Run `plays` and return the finished process (never raises on a failed run).

    `check` defaults to True: the bad-input tests run on the CI machine itself, and check mode is a second
    safety net behind the preflight asserts. `inventory` is a host list string or an inventory dict.
    """
    playbook = tmp_path / "playbook.json"
    playbook.write_text(json.dumps(plays, indent=2))
    if isinstance(inventory, dict):
        inventory_file = tmp_path / "inventory.json"
        inventory_file.write_text(json.dumps(inventory))
        inventory = str(inventory_file)
    cmd = [str(ANSIBLE_PLAYBOOK), "-i", inventory]
    if check:
        cmd.append("--check")
    if extra_vars:
        # A file rather than the command line: extra vars outrank include_vars and play vars alike.
        vars_file = tmp_path / "extra-vars.json"
        vars_file.write_text(json.dumps(extra_vars))
        cmd += ["-e", "@" + str(vars_file)]
    cmd.append(str(playbook))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"),
        # A private in-memory fact cache: nothing from or about this machine is kept.
        "ANSIBLE_CACHE_PLUGIN": "memory",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        # Keep messages whole: assertions look for them on one line.
        "COLUMNS": "1000",
    }
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def assert_fails_naming(result: subprocess.CompletedProcess, *needles: str, not_reached: tuple = ()) -> None:
    """The run failed in a task (not a crash or a syntax error) whose output names every needle, and none of the
    tasks named in not_reached (those after the preflight) ran."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert re.search(r"^(fatal|failed): \[localhost\]", output, re.MULTILINE), output
    for needle in needles:
        assert needle in output, f"{needle!r} not in output:\n{output}"
    for task in not_reached:
        assert task not in output, f"{task!r} ran:\n{output}"

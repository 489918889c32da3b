"""Shared runner for the integration tests: ansible-playbook from the test venv, on a generated playbook.

A module of its own rather than conftest.py: the unit tests have a conftest of their own, and `make unit` collects
both folders in one run, where two modules named conftest cannot both be imported by that name.

The run goes through ansible-runner, so that a test can assert on the result of a task from the event stream
(`PlaybookResult.failed_tasks`, `task_results`) rather than only on the text of the output.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ansible_runner

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
if not ANSIBLE_PLAYBOOK.exists():
    # pytest started by a Python outside the venv: use the venv of the repository.
    ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"

# The results of a task on a host, one event each; the item events repeat what the task's own event holds.
TASK_RESULT_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")


class PlaybookResult(subprocess.CompletedProcess):
    """The finished run: `returncode`, `stdout` (stderr comes merged into it, through the runner's terminal), `stderr`
    (empty for that reason) and `events`, the runner's event dicts in the order ansible emitted them."""

    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str, events: list[dict]):
        super().__init__(args, returncode, stdout, stderr)
        self.events = events

    def task_results(self, task: str | None = None) -> list[dict]:
        """The `event_data` of every task result (ok, failed, skipped, unreachable), of the task named `task` if
        given; its `res` is the module's result and `event` is added from the event."""
        found = []
        for event in self.events:
            data = event.get("event_data", {})
            if event.get("event") in TASK_RESULT_EVENTS and (task is None or data.get("task") == task):
                found.append({**data, "event": event["event"]})
        return found

    def failed_tasks(self) -> list[dict]:
        """The results that failed the run: failed or unreachable and not ignored."""
        return [r for r in self.task_results()
                if r["event"] in ("runner_on_failed", "runner_on_unreachable") and not r.get("ignore_errors")]

    def started_tasks(self) -> list[str]:
        """The name of every task that started, in order (a task name appears once per play that ran it)."""
        return [e["event_data"].get("task", "") for e in self.events if e.get("event") == "playbook_on_task_start"]


def failure_messages(result: dict) -> list[str]:
    """The messages of a failed result, the result of each failed loop item included."""
    res = result.get("res") or {}
    messages = [str(res["msg"])] if "msg" in res else []
    for item in res.get("results") or []:
        if isinstance(item, dict) and item.get("failed") and "msg" in item:
            messages.append(str(item["msg"]))
    return messages


def run_processes(artifact_dir: str) -> list[int]:
    """The processes of a run still alive: every one of them inherits the run's artifact directory in its
    environment."""
    marker = f"AWX_ISOLATED_DATA_DIR={artifact_dir}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def end_run(artifact_dir: str) -> None:
    """Kill what is left of a run the runner gave up on. Under the runner's terminal ansible-playbook forks the
    process that runs the play into a session of its own, which the runner's kill of its process group misses."""
    for pid in run_processes(artifact_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # Gone once the kernel has taken them down; a few tenths of a second at most.
    deadline = time.monotonic() + 5
    while run_processes(artifact_dir) and time.monotonic() < deadline:
        time.sleep(0.1)


def start_runner(*, envvars: dict, **kwargs):
    """`ansible_runner.run` with what every run from this repository needs, the benchmarks' included: host key
    checking as ansible.cfg sets it, and no record of the run's environment left in its artifacts."""
    envvars = dict(envvars)
    if "ANSIBLE_HOST_KEY_CHECKING" not in os.environ:
        # The runner turns host key checking off where the environment does not set it; ansible.cfg keeps it on.
        envvars["ANSIBLE_HOST_KEY_CHECKING"] = "True"
    runner = ansible_runner.run(envvars=envvars, **kwargs)
    # The runner records the whole environment of the run there, credentials of this machine included.
    (Path(runner.config.artifact_dir) / "command").unlink(missing_ok=True)
    return runner


def run_playbook(
    tmp_path: Path,
    plays: list,
    *,
    inventory: str | dict = "localhost,",
    extra_vars: dict | None = None,
    check: bool = True,
    timeout: int = 300,
    fact_cache: Path | None = None,
    tags: str | None = None,
    limit: str | None = None,
    python_interpreter: str | None = sys.executable,
) -> PlaybookResult:
    """Run `plays` and return the finished run (never raises on a failed run; raises TimeoutExpired past `timeout`).

    `check` defaults to True: the bad-input tests run on the CI machine itself, and check mode is a second
    safety net behind the preflight asserts. `inventory` is a host list string or an inventory dict. `fact_cache`,
    a folder of the test's own, is the run's jsonfile fact cache (gathering smart: a host whose facts it holds is
    not gathered again); without it the cache is in memory. `tags` and `limit` are passed as --tags and --limit.
    `python_interpreter` is every host's (the controller's own Python by default); None leaves it to interpreter
    discovery, for real hosts.
    """
    playbook = tmp_path / "playbook.json"
    playbook.write_text(json.dumps(plays, indent=2))
    if isinstance(inventory, dict):
        inventory_file = tmp_path / "inventory.json"
        inventory_file.write_text(json.dumps(inventory))
        inventory = str(inventory_file)
    # A fresh directory per run: the runner keeps the env files it finds there over the ones it is given.
    private_data_dir = tempfile.mkdtemp(prefix="runner-", dir=tmp_path)
    # The inventory on the command line: the runner would write a host list string into an INI file.
    args = ["-i", inventory]
    if check:
        args.append("--check")
    if tags:
        args += ["--tags", tags]
    if limit:
        args += ["--limit", limit]
    args.append(str(playbook))
    envvars = {
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"),
        # A private fact cache: in memory, or a folder under the test's own temporary folder.
        "ANSIBLE_CACHE_PLUGIN": "memory" if fact_cache is None else "jsonfile",
        **({} if fact_cache is None else {"ANSIBLE_CACHE_PLUGIN_CONNECTION": str(fact_cache),
                                          "ANSIBLE_GATHERING": "smart"}),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        **({} if python_interpreter is None else {"ANSIBLE_PYTHON_INTERPRETER": python_interpreter}),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        # Keep messages whole: assertions look for them on one line.
        "COLUMNS": "1000",
    }
    runner = start_runner(
        private_data_dir=private_data_dir,
        # The project directory is only the working directory of the run, as the repository was before.
        project_dir=str(REPO),
        binary=str(ANSIBLE_PLAYBOOK),
        cmdline=shlex.join(args),
        # A file rather than the command line: extra vars outrank include_vars and play vars alike.
        extravars=extra_vars or None,
        envvars=envvars,
        # Not the runner's jsonfile cache under its artifacts: the memory cache set above.
        fact_cache_type="memory",
        timeout=timeout,
        quiet=True,
        # Without a callback of its own the runner takes over SIGINT and SIGTERM for the rest of the session, and
        # Ctrl-C would no longer stop pytest.
        cancel_callback=lambda: False,
    )
    artifacts = Path(runner.config.artifact_dir)
    command = list(runner.config.command)
    if runner.status == "timeout":
        end_run(runner.config.artifact_dir)
        raise subprocess.TimeoutExpired(command, timeout, output=(artifacts / "stdout").read_text())
    # The runner reads the output through a terminal: lines end in CRLF there.
    stdout = (artifacts / "stdout").read_text().replace("\r\n", "\n")
    return PlaybookResult(command, runner.rc, stdout, "", list(runner.events))


def assert_fails_naming(result: PlaybookResult, *needles: str, not_reached: tuple = ()) -> None:
    """The run failed in a task (not a crash or a syntax error) whose name or message names every needle, and none
    of the tasks named in not_reached (those after the preflight) ran."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert re.search(r"^(fatal|failed): \[localhost\]", output, re.MULTILINE), output
    failed = result.failed_tasks()
    assert failed, f"no failed task in the events:\n{output}"
    named = "\n".join(text for r in failed for text in [r.get("task", "")] + failure_messages(r))
    for needle in needles:
        assert needle in output, f"{needle!r} not in output:\n{output}"
        assert needle in named, f"{needle!r} not in the failed task's name or message:\n{named}"
    started = result.started_tasks()
    for task in not_reached:
        assert not any(task in name for name in started), f"{task!r} ran:\n{output}"
        assert task not in output, f"{task!r} ran:\n{output}"


# A case's name is its inventory host name.
CASE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

# The play run before the cases' own: each host reads its case's variables from a file of its own, and
# include_vars outranks role vars and play vars as the extra vars of a run of its own would (role params, include
# params and set_fact aside).
TAKE_CASE_VARS = {
    "name": "Take the variables of each case",
    "hosts": "all",
    "gather_facts": False,
    "tasks": [{"name": "Read the case's variables", "ansible.builtin.include_vars": {"file": "{{ case_vars_file }}"}}],
}


# The controller's facts, gathered once per session under the first batch's temporary folder (seed_fact_cache).
SEED_HOST = "fact-seed"
_SEED_FACTS: list[Path] = []


def seed_fact_cache(tmp_path: Path, hosts: list[str]) -> Path:
    """A jsonfile fact cache in tmp_path that holds this machine's facts for every host of `hosts`.

    Every case of a batch is a local connection to this machine, so each would gather the same facts: about a
    second of processor time per host, more than the preflight under test. They are gathered for real once per
    session (one host, one run) and that host's cache entry is copied under each case's name; the entry's file
    name is the cache plugin's own, with the host name at its end."""
    if not _SEED_FACTS:
        seed_dir = tmp_path / "fact-seed"
        seed_dir.mkdir()
        inventory = {"all": {"hosts": {SEED_HOST: {"ansible_connection": "local",
                                                   "ansible_python_interpreter": sys.executable}}}}
        result = run_playbook(seed_dir, [{"name": "Gather the facts of this machine", "hosts": "all",
                                          "gather_facts": True, "tasks": []}],
                              inventory=inventory, fact_cache=seed_dir / "cache")
        entries = [f for f in (seed_dir / "cache").iterdir() if f.name.endswith(SEED_HOST)] \
            if (seed_dir / "cache").is_dir() else []
        if result.returncode != 0 or len(entries) != 1:
            raise AssertionError(f"gathering the facts of this machine failed (rc {result.returncode}, "
                                 f"cache entries {entries}):\n{result.stdout}")
        _SEED_FACTS.append(entries[0])
    seed = _SEED_FACTS[0]
    prefix = seed.name[:-len(SEED_HOST)]
    cache = tmp_path / "fact-cache"
    cache.mkdir()
    for host in hosts:
        shutil.copyfile(seed, cache / f"{prefix}{host}")
    return cache


class CaseRun:
    """What one case (one inventory host) of a batch did: its results in the shared run's events."""

    def __init__(self, host: str, run: PlaybookResult):
        self.host = host
        self.run = run
        self.events = [e for e in run.events if e.get("event_data", {}).get("host") == host]
        # The output of its own results, as ansible-playbook printed them.
        self.stdout = "\n".join(e["stdout"] for e in self.events if e.get("stdout"))

    def task_results(self, task: str | None = None) -> list[dict]:
        return [r for r in self.run.task_results(task) if r.get("host") == self.host]

    def failed_tasks(self) -> list[dict]:
        return [r for r in self.run.failed_tasks() if r.get("host") == self.host]

    def changed_tasks(self) -> list[str]:
        """The tasks that reported a change on this host (in check mode: would have changed it)."""
        return [r["task"] for r in self.task_results() if (r.get("res") or {}).get("changed")]

    @property
    def failed(self) -> bool:
        stats = next((e["event_data"] for e in self.run.events if e.get("event") == "playbook_on_stats"), {})
        return bool((stats.get("failures") or {}).get(self.host) or (stats.get("dark") or {}).get(self.host))


def run_cases(
    tmp_path: Path,
    plays: list,
    cases: dict[str, dict],
    *,
    group: str = "cases",
    host_vars: dict | None = None,
    extra_vars: dict | None = None,
    check: bool = True,
    timeout: int = 900,
) -> dict[str, CaseRun]:
    """Run `plays` once for many cases: one inventory host per case (connection local, in group `group`), each with
    its case's variables read by include_vars before the plays start, and `host_vars` as inventory variables of
    every host.

    One ansible-playbook start for a whole module of bad-input cases instead of one per case: the start and the
    loading of the collection cost more than the preflight under test. The hosts' facts are this machine's, from
    the session's one real gathering (seed_fact_cache), so that no case gathers them again. The plays address
    `hosts: all` or the group. A case stays independent of the others only as far as the role keeps hosts apart
    (no `run_once` on the path under test, no check over a group's size); those cases run on their own with
    `run_playbook`.
    """
    for name in cases:
        if not CASE_NAME.match(name):
            raise ValueError(f"case name {name!r} is not a host name (lowercase letters, digits and '-')")
    vars_dir = tmp_path / "case-vars"
    vars_dir.mkdir()
    hosts = {}
    for name, case_vars in cases.items():
        (vars_dir / f"{name}.json").write_text(json.dumps(case_vars))
        hosts[name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            **(host_vars or {}),
            "case_vars_file": str(vars_dir / f"{name}.json"),
        }
    inventory = {"all": {"children": {group: {"hosts": hosts}}}}
    result = run_playbook(tmp_path, [TAKE_CASE_VARS, *plays], inventory=inventory, extra_vars=extra_vars,
                          check=check, timeout=timeout, fact_cache=seed_fact_cache(tmp_path, list(cases)))
    runs = {name: CaseRun(name, result) for name in cases}
    if not any(run.events for run in runs.values()):
        # The playbook did not start (a syntax error, a bad inventory): say so once, with its output.
        raise AssertionError(f"the batch ran no task on any case (rc {result.returncode}):\n{result.stdout}")
    return runs


def assert_case_fails_naming(run: CaseRun, *needles: str, not_reached: tuple = (),
                             collapse_whitespace: bool = False) -> None:
    """The case's host failed in a task whose name or message names every needle, changed nothing, and ran none of
    the tasks named in not_reached. With collapse_whitespace, the needles are looked for in the names and messages
    with every run of whitespace made one space: for roles whose folded messages keep a line break mid-sentence."""
    assert run.failed, f"{run.host} did not fail:\n{run.stdout}"
    failed = run.failed_tasks()
    assert failed, f"no failed task of {run.host} in the events:\n{run.stdout}"
    named = "\n".join(text for r in failed for text in [r.get("task", "")] + failure_messages(r))
    searched = " ".join(named.split()) if collapse_whitespace else named
    for needle in needles:
        assert needle in searched, f"{needle!r} not in the failed task's name or message of {run.host}:\n{named}"
    ran = [r.get("task", "") for r in run.task_results()]
    for task in not_reached:
        assert not any(task in name for name in ran), f"{task!r} ran on {run.host}:\n{run.stdout}"
    assert run.changed_tasks() == [], f"{run.host} changed something before it failed: {run.changed_tasks()}"

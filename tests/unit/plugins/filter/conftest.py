"""A fixture that renders Jinja the way a play does, to hold filters to the expressions they replaced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def render_in_play(tmp_path_factory):
    """render_in_play([(template, vars), ...]) -> the value of each template, set as a fact by ansible-playbook.

    One play on localhost renders them all (a few seconds), with the collection and its dependencies as a run
    of the roles has them, so `unique`, `default` and a `{% for %}` block behave as they do in the roles.
    """
    def run(cases):
        folder = tmp_path_factory.mktemp("jinja")
        tasks = [{"name": "case %d" % index, "ansible.builtin.set_fact": {"case_%d" % index: template}, "vars": variables}
                 for index, (template, variables) in enumerate(cases)]
        playbook = folder / "play.yml"
        playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], sort_keys=False))
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1")
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                               "-c", "local", str(playbook)],
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        # The JSON document has lines of its own, between what the task timing callback prints before and after.
        start = 0 if proc.stdout.startswith("{") else proc.stdout.index("\n{") + 1
        results = json.JSONDecoder().raw_decode(proc.stdout, start)[0]["plays"][0]["tasks"]
        return [results[index]["hosts"]["localhost"]["ansible_facts"]["case_%d" % index] for index in range(len(cases))]

    return run

"""A model URL's token never reaches the output: the download is hidden, and its failure is reported without it.

The two real tasks of roles/model_store/tasks/publish.yml (read from the file, not copied) run on localhost at -vvv
against a URL on a closed loopback port whose user info and query carry markers.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from playbook_runner import REPO, run_playbook

TASKS = ("Download the URL models once into the controller cache", "Fail naming the URL models that could not be downloaded")
SHA = "a" * 64


def test_a_failed_download_names_the_model_but_not_the_token(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ANSIBLE_VERBOSITY", "3")
    tasks = [copy.deepcopy(t) for t in yaml.safe_load((REPO / "roles/model_store/tasks/publish.yml").read_text())
             if t.get("name") in TASKS]
    assert [t["name"] for t in tasks] == list(TASKS)
    url = "http://reader:userinfo-marker-5c1e@127.0.0.1:9/models/m.gguf?X-Amz-Signature=query-marker-9d2f"
    plays = [{
        "name": "Download a model from a URL that carries credentials",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"__model_store_cache_dir": str(tmp_path), "model_store_publish_models": [{"name": "m", "sha256": SHA, "url": url}]},
        "tasks": tasks,
    }]
    result = run_playbook(tmp_path, plays, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "model m (http://127.0.0.1:9/...): " in output, output
    for marker in ("userinfo-marker-5c1e", "query-marker-9d2f"):
        assert marker not in output, output

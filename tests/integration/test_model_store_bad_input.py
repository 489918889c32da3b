"""Bad input to the model_store entry points fails before any change, naming the variable.

The stage entry point runs against this machine (connection local) in check mode; every model entry is
validated before the first folder is created, so the folder of the case must not exist afterwards.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from playbook_runner import run_playbook

SHA = "a" * 64

STAGE_CASES = {
    "missing_checksum": (
        [{"name": "gemma3-270m", "src": "/tmp/model.gguf"}],
        ["model_store_stage_models[0].sha256 is required"],
    ),
    "short_checksum": (
        [{"name": "gemma3-270m", "sha256": "abc", "src": "/tmp/model.gguf"}],
        ["model_store_stage_models[0].sha256 is required", '"abc"'],
    ),
    "two_sources": (
        [{"name": "gemma3-270m", "sha256": SHA, "src": "/tmp/m.gguf", "url": "https://models.internal/m.gguf"}],
        ["model_store_stage_models[0] needs exactly one source of src, url or s3 (got src, url)"],
    ),
    "no_source": (
        [{"name": "gemma3-270m", "sha256": SHA}],
        ["model_store_stage_models[0] needs exactly one source", "(got none)"],
    ),
    "bad_name": (
        [{"name": "ok", "sha256": SHA, "src": "/tmp/a"}, {"name": "Gemma 3", "sha256": SHA, "src": "/tmp/b"}],
        ['model_store_stage_models[1].name "Gemma 3" must match'],
    ),
    "duplicate_names": (
        [{"name": "same", "sha256": SHA, "src": "/tmp/a"}, {"name": "same", "sha256": SHA, "url": "https://h/b"}],
        ["model_store_stage_models: names must be unique, repeated: same"],
    ),
    "file_with_a_path": (
        [{"name": "m", "sha256": SHA, "src": "/tmp/a", "file": "../../etc/passwd"}],
        ["model_store_stage_models[0].file must be a plain file name"],
    ),
    "ftp_url": (
        [{"name": "m", "sha256": SHA, "url": "ftp://h/m.gguf"}],
        ["model_store_stage_models[0].url must be an http:// or https:// URL"],
    ),
    "s3_without_object": (
        [{"name": "m", "sha256": SHA, "s3": {"bucket": "models"}}],
        ["model_store_stage_models[0].s3 must be a mapping {bucket, object}"],
    ),
    "not_a_list": (
        {"name": "m", "sha256": SHA, "src": "/tmp/a"},
        ["model_store_stage_models"],
    ),
}


def run_entry(tmp_path: Path, entry: str, role_vars: dict) -> subprocess.CompletedProcess:
    play = [
        {
            "name": "Apply a model_store entry point with bad input",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Apply the entry point",
                    "ansible.builtin.include_role": {"name": "llm_infra.cluster.model_store", "tasks_from": entry},
                }
            ],
        }
    ]
    return run_playbook(tmp_path, play, extra_vars=role_vars)


@pytest.mark.parametrize("case", sorted(STAGE_CASES))
def test_stage_bad_input_fails_naming_the_variable(tmp_path: Path, case: str) -> None:
    models, expected = STAGE_CASES[case]
    store = tmp_path / "models"
    result = run_entry(tmp_path, "stage", {"model_store_stage_models": models, "model_store_dir": str(store)})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for fragment in expected:
        assert fragment in output, f"{fragment!r} missing from the output:\n{output}"
    assert "Create the model folders" not in output, output
    assert not store.exists()


def test_publish_without_checksum_fails_naming_the_variable(tmp_path: Path) -> None:
    result = run_entry(tmp_path, "publish", {
        "model_store_publish_models": [{"name": "gemma3-270m", "src": "/tmp/model.gguf"}],
        "model_store_s3_url": "https://127.0.0.1:9",
    })
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "model_store_publish_models[0].sha256 is required" in output, output
    assert "Create the models bucket" not in output, output


@pytest.mark.parametrize("bucket", ["Models", "ab", "models_v2", "-models"])
def test_bucket_name_s3_rejects(tmp_path: Path, bucket: str) -> None:
    result = run_entry(tmp_path, "main", {"model_store_bucket": bucket, "model_store_s3_url": "https://127.0.0.1:9"})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"model_store_bucket '{bucket}' must be a valid S3 bucket name" in output, output
    assert "Create the models bucket" not in output, output

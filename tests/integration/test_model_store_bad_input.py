"""Bad input to the model_store entry points fails before any change, naming the variable.

Every case of the stage, publish and main entry points runs in one playbook in check mode, one inventory host with
a local connection per case (see playbook_runner.run_cases); each host includes only its own entry point. Their
preflight checks read only the host's own variables (the run_once tasks come after them), so the cases stay apart
in one run. Every model entry is validated before the first folder is created, so the folder of a stage case, a
path of its own, must not exist afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook_runner import assert_case_fails_naming, run_cases

SHA = "a" * 64

STAGE_CASES = {
    "missing-checksum": (
        [{"name": "gemma3-270m", "src": "/tmp/model.gguf"}],
        ["model_store_stage_models[0].sha256 is required"],
    ),
    "short-checksum": (
        [{"name": "gemma3-270m", "sha256": "abc", "src": "/tmp/model.gguf"}],
        ["model_store_stage_models[0].sha256 is required", '"abc"'],
    ),
    "two-sources": (
        [{"name": "gemma3-270m", "sha256": SHA, "src": "/tmp/m.gguf", "url": "https://models.internal/m.gguf"}],
        ["model_store_stage_models[0] needs exactly one source of src, url or s3 (got src, url)"],
    ),
    "no-source": (
        [{"name": "gemma3-270m", "sha256": SHA}],
        ["model_store_stage_models[0] needs exactly one source", "(got none)"],
    ),
    "bad-name": (
        [{"name": "ok", "sha256": SHA, "src": "/tmp/a"}, {"name": "Gemma 3", "sha256": SHA, "src": "/tmp/b"}],
        ['model_store_stage_models[1].name "Gemma 3" must match'],
    ),
    "duplicate-names": (
        [{"name": "same", "sha256": SHA, "src": "/tmp/a"}, {"name": "same", "sha256": SHA, "url": "https://h/b"}],
        ["model_store_stage_models: names must be unique, repeated: same"],
    ),
    "file-with-a-path": (
        [{"name": "m", "sha256": SHA, "src": "/tmp/a", "file": "../../etc/passwd"}],
        ["model_store_stage_models[0].file must be a plain file name"],
    ),
    "ftp-url": (
        [{"name": "m", "sha256": SHA, "url": "ftp://h/m.gguf"}],
        ["model_store_stage_models[0].url must be an http:// or https:// URL"],
    ),
    "s3-without-object": (
        [{"name": "m", "sha256": SHA, "s3": {"bucket": "models"}}],
        ["model_store_stage_models[0].s3 must be a mapping {bucket, object}"],
    ),
    "not-a-list": (
        {"name": "m", "sha256": SHA, "src": "/tmp/a"},
        ["model_store_stage_models"],
    ),
}


PUBLISH_CASE = "publish-without-checksum"

# Case name: bucket name (the bucket name is the test id).
BUCKET_CASES = {"bucket-upper-case": "Models", "bucket-too-short": "ab", "bucket-underscore": "models_v2",
                "bucket-leading-dash": "-models"}

S3_URL = "https://127.0.0.1:9"

# One play: each host includes the entry point its case names, and skips the others.
ENTRY_PLAY = [
    {
        "name": "Apply a model_store entry point with bad input",
        "hosts": "cases",
        "gather_facts": False,
        "tasks": [
            {
                "name": f"Apply the {entry} entry point",
                "ansible.builtin.include_role": {"name": "llm_infra.cluster.model_store", "tasks_from": entry},
                "when": f"case_entry_point == '{entry}'",
            }
            for entry in ("stage", "publish", "main")
        ],
    }
]


def store_of(runs_dir: Path, case: str) -> Path:
    """The model_store_dir of a stage case: a folder of its own, which the preflight must leave uncreated."""
    return runs_dir / "stores" / case / "models"


@pytest.fixture(scope="module")
def entry_runs(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("model-store")
    cases = {}
    for case, (models, _expected) in STAGE_CASES.items():
        cases[case] = {"case_entry_point": "stage", "model_store_stage_models": models,
                       "model_store_dir": str(store_of(runs_dir, case))}
    cases[PUBLISH_CASE] = {"case_entry_point": "publish", "model_store_s3_url": S3_URL,
                           "model_store_publish_models": [{"name": "gemma3-270m", "src": "/tmp/model.gguf"}]}
    for case, bucket in BUCKET_CASES.items():
        cases[case] = {"case_entry_point": "main", "model_store_bucket": bucket, "model_store_s3_url": S3_URL}
    return runs_dir, run_cases(runs_dir, ENTRY_PLAY, cases)


@pytest.mark.parametrize("case", sorted(STAGE_CASES))
def test_stage_bad_input_fails_naming_the_variable(entry_runs, case: str) -> None:
    runs_dir, runs = entry_runs
    assert_case_fails_naming(runs[case], *STAGE_CASES[case][1], not_reached=("Create the model folders",))
    assert not store_of(runs_dir, case).exists()


def test_publish_without_checksum_fails_naming_the_variable(entry_runs) -> None:
    assert_case_fails_naming(entry_runs[1][PUBLISH_CASE], "model_store_publish_models[0].sha256 is required",
                             not_reached=("Create the models bucket",))


@pytest.mark.parametrize("case", BUCKET_CASES, ids=list(BUCKET_CASES.values()))
def test_bucket_name_s3_rejects(entry_runs, case: str) -> None:
    assert_case_fails_naming(entry_runs[1][case],
                             f"model_store_bucket '{BUCKET_CASES[case]}' must be a valid S3 bucket name",
                             not_reached=("Create the models bucket",))

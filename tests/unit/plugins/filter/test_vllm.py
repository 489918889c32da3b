import pytest

from ansible_collections.llm_infra.cluster.plugins.filter.vllm import (
    vllm_args,
    vllm_context_problems,
    vllm_instance_problems,
    vllm_model_path,
)

DEFAULTS = {
    "aliases": [], "max_model_len": 4096, "max_num_seqs": 16, "dtype": "auto", "quantization": "", "enable_prefix_caching": True,
    "chat_template": "", "tensor_parallel_size": 1, "pipeline_parallel_size": 1, "gpu_memory_utilization": 0.9,
    "cuda_visible_devices": "", "rope_scaling": {}, "kv_cache_space_gib": 2, "cpu_threads": 0, "enforce_eager": True, "extra_args": [],
}
GGUF = {"name": "smollm2", "sha256": "b" * 64, "src": "/srv/smollm2.gguf"}
GPUS = [{"index": 0, "uuid": "GPU-aaaa"}, {"index": 1, "uuid": "GPU-bbbb", "mig_devices": [{"uuid": "MIG-1234abcd-0000"}]}]


def inst(name="chat", model_id="smol", port=8201, **extra):
    entry = {"name": name, "served_model_name": model_id, "port": port, "model": GGUF}
    entry.update(extra)
    return entry


def test_valid_cpu_and_gpu_instances_have_no_problem():
    assert vllm_instance_problems([inst(), inst("b", "smol-b", 8202, aliases=["s2"])], DEFAULTS, "cpu") == []
    gpu = [inst(cuda_visible_devices="0", gpu_memory_utilization=0.5), inst("b", "m2", 8202, cuda_visible_devices="0", gpu_memory_utilization=0.45)]
    assert vllm_instance_problems(gpu, DEFAULTS, "venv", GPUS) == []
    assert vllm_instance_problems([inst(tensor_parallel_size=2)], DEFAULTS, "venv", GPUS) == []
    assert vllm_instance_problems([inst(cuda_visible_devices="MIG-1234abcd-0000")], DEFAULTS, "venv", GPUS) == []
    assert vllm_instance_problems([inst(model={"name": "qwen", "path": "/srv/qwen"})], DEFAULTS, "cpu") == []


def test_names_ports_and_model_ids_must_be_unique():
    problems = vllm_instance_problems([inst(), inst(port=8201, aliases=["smol"])], DEFAULTS, "cpu")
    assert "vllm_instances[1] (chat): name is also vllm_instances[0]'s" in problems
    assert "vllm_instances[1] (chat).port 8201 is also vllm_instances[0]'s" in problems
    assert "vllm_instances[1] (chat): model id 'smol' is also served by vllm_instances[0]" in problems


@pytest.mark.parametrize("name", ["Chat", "-a", "a_b", "a b", "", "a\n"])
def test_bad_names_are_named(name):
    [problem] = vllm_instance_problems([inst(name)], DEFAULTS, "cpu")
    assert problem.startswith("vllm_instances[0].name")


@pytest.mark.parametrize("model_id", ["", "a b", "x\nbind :80", "'q'", None])
def test_model_ids_must_be_routable(model_id):
    [problem] = vllm_instance_problems([inst(model_id=model_id)], DEFAULTS, "cpu")
    assert "model id" in problem


def test_numbers_and_kinds_are_checked():
    problems = vllm_instance_problems(
        [inst(port="x", max_model_len=0, dtype="int3", gpu_memory_utilization=1.5, rope_scaling="yarn", extra_args=["--a b"])], DEFAULTS, "cpu")
    assert "vllm_instances[0] (chat).port must be an integer, got 'x'" in problems
    assert "vllm_instances[0] (chat).max_model_len must be >= 1, got 0" in problems
    assert any(p.startswith("vllm_instances[0] (chat).dtype 'int3'") for p in problems)
    assert "vllm_instances[0] (chat).gpu_memory_utilization 1.5 must be in (0, 1]" in problems
    assert any("rope_scaling must be a dict" in p for p in problems)
    assert any("extra_args" in p for p in problems)
    [problem] = vllm_instance_problems([inst(port=80)], DEFAULTS, "cpu")
    assert problem == "vllm_instances[0] (chat).port 80 must be 1024-65535"


def test_a_model_entry_needs_a_digest_and_a_source_or_a_path():
    problems = vllm_instance_problems([inst(model={"name": "m", "sha256": "x"})], DEFAULTS, "cpu")
    assert "vllm_instances[0] (chat).model.sha256 must be 64 hex digits" in problems
    assert any("needs one of src, url or s3" in p for p in problems)
    [problem] = vllm_instance_problems([inst(model={"name": "m", "path": "relative/dir"})], DEFAULTS, "cpu")
    assert "must be an absolute folder" in problem


def test_cpu_instances_claim_no_gpu_and_run_in_one_process():
    problems = vllm_instance_problems([inst(cuda_visible_devices="0", pipeline_parallel_size=2)], DEFAULTS, "cpu")
    assert any("cpu runs on no GPU" in p for p in problems)
    assert any("tensor_parallel_size x pipeline_parallel_size is 2" in p for p in problems)


def test_gpu_methods_need_gpus_that_match_the_parallel_sizes():
    [problem] = vllm_instance_problems([inst()], DEFAULTS, "venv", [])
    assert "needs NVIDIA GPUs" in problem
    [problem] = vllm_instance_problems([inst(cuda_visible_devices="0", tensor_parallel_size=2)], DEFAULTS, "venv", GPUS)
    assert problem == ("vllm_instances[0] (chat): tensor_parallel_size x pipeline_parallel_size is 2, but cuda_visible_devices "
                       "lists 1 GPU(s)")
    [problem] = vllm_instance_problems([inst()], DEFAULTS, "venv", GPUS)
    assert "is 1, but the host has 2 GPU(s)" in problem
    [problem] = vllm_instance_problems([inst(cuda_visible_devices="7")], DEFAULTS, "venv", GPUS)
    assert "names 7, which the host does not have" in problem


def test_two_instances_cannot_claim_more_than_a_whole_gpu():
    gpu = [inst(cuda_visible_devices="1", gpu_memory_utilization=0.6), inst("b", "m2", 8202, cuda_visible_devices="1", gpu_memory_utilization=0.5)]
    [problem] = vllm_instance_problems(gpu, DEFAULTS, "venv", GPUS)
    assert problem == "GPU 1 is claimed by chat (0.6), b (0.5): their gpu_memory_utilization adds up to 1.10, more than the whole GPU"


def test_the_model_folder():
    assert vllm_model_path(GGUF, "/var/lib/llm-infra/vllm-models/") == "/var/lib/llm-infra/vllm-models/smollm2-" + "b" * 12
    assert vllm_model_path({"name": "q", "path": "/srv/q/"}, "/x") == "/srv/q"


def test_a_context_above_the_model_is_refused_unless_rope_scaling_is_set():
    configs = {"/m": {"max_position_embeddings": 8192}, "/t": {"text_config": {"max_position_embeddings": 2048}}}
    assert vllm_context_problems([{"name": "a", "max_model_len": 8192, "__folder": "/m"}], configs) == []
    [problem] = vllm_context_problems([{"name": "a", "max_model_len": 100000, "__folder": "/m"}], configs)
    assert "max_model_len 100000 is larger than the 8192 tokens" in problem
    assert vllm_context_problems([{"name": "a", "max_model_len": 100000, "rope_scaling": {"rope_type": "yarn"}, "__folder": "/m"}], configs) == []
    [problem] = vllm_context_problems([{"name": "a", "max_model_len": 4096, "__folder": "/t"}], configs)
    assert "2048" in problem
    [problem] = vllm_context_problems([{"name": "a", "max_model_len": 1, "__folder": "/none"}], configs)
    assert "/none/config.json is missing" in problem


def test_the_arguments():
    tls = {"key": "/k", "cert": "/c"}
    args = vllm_args(dict(DEFAULTS, **inst(aliases=["s2"])), "/m", "10.0.0.5", tls, "cpu")
    assert args[:5] == ["--model", "/m", "--served-model-name", "smol", "s2"]
    assert args[args.index("--host") + 1] == "10.0.0.5" and args[args.index("--port") + 1] == "8201"
    assert "--enforce-eager" in args and "--enable-prefix-caching" in args
    assert "--gpu-memory-utilization" not in args
    assert not any("key" in a.lower() and a.startswith("--api") for a in args)
    gpu = vllm_args(dict(DEFAULTS, **inst(rope_scaling={"rope_type": "yarn", "factor": 4}, enforce_eager=False, quantization="awq")),
                    "/m", "10.0.0.5", tls, "venv")
    assert gpu[gpu.index("--gpu-memory-utilization") + 1] == "0.9"
    assert gpu[gpu.index("--hf-overrides") + 1] == '{"rope_scaling":{"factor":4,"rope_type":"yarn"}}'
    assert "--enforce-eager" not in gpu and gpu[gpu.index("--quantization") + 1] == "awq"

# -*- coding: utf-8 -*-
# Copyright: llm-infra maintainers
# Apache License 2.0
"""Checks and command lines of the vllm role's instances: every rule that spans fields or instances, in one place
with unit tests, so the role's preflight is one call and the settings file one loop-free template.

Documented next to this file, one file per filter: vllm_instance_problems.yml, vllm_context_problems.yml,
vllm_model_path.yml, vllm_args.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible.errors import AnsibleFilterError

# The gateway's rule for model ids, so that every id served here is routable.
from ansible_collections.llm_infra.cluster.plugins.plugin_utils._validate import valid_model_id

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
DTYPES = ("auto", "bfloat16", "float16", "float32", "half", "float")
INT_KEYS = ("port", "max_model_len", "max_num_seqs", "tensor_parallel_size", "pipeline_parallel_size",
            "kv_cache_space_gib", "cpu_threads")


def _int(value):
    if isinstance(value, bool):
        raise ValueError(value)
    return int(str(value).strip())


def _devices(instance):
    value = instance.get("cuda_visible_devices", "")
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def vllm_model_path(model, converted_dir):
    """The folder an instance's vLLM loads: the host folder of a `path` entry, else the folder the role converts
    the staged GGUF into (one per model name and digest, so a new file is a new folder)."""
    if not isinstance(model, dict):
        raise AnsibleFilterError("vllm_model_path: model must be a dict, got %r" % (model,))
    if model.get("path"):
        return str(model["path"]).rstrip("/")
    return "%s/%s-%s" % (str(converted_dir).rstrip("/"), model.get("name", ""), str(model.get("sha256", ""))[:12].lower())


def vllm_instance_problems(instances, defaults, method, gpus=None):
    """Every problem of `instances` (vllm_instances) for install `method` on a host with `gpus` (nvidia_gpu_facts'
    list), each naming the entry and key; empty when all is well."""
    problems = []
    if not isinstance(instances, list):
        return ["vllm_instances must be a list, got %s" % type(instances).__name__]
    gpus = gpus or []
    indexes = {str(gpu.get("index")) for gpu in gpus if isinstance(gpu, dict)}
    uuids = {str(gpu.get("uuid")) for gpu in gpus if isinstance(gpu, dict)}
    for gpu in gpus:
        for mig in (gpu.get("mig_devices") or []) if isinstance(gpu, dict) else []:
            if isinstance(mig, dict) and mig.get("uuid"):
                uuids.add(str(mig["uuid"]))
    seen_names, seen_ports, seen_ids = {}, {}, {}
    claims = {}
    for index, entry in enumerate(instances):
        where = "vllm_instances[%d]" % index
        if not isinstance(entry, dict):
            problems.append("%s must be a dict, got %r" % (where, entry))
            continue
        instance = dict(defaults or {}, **entry)
        name = str(instance.get("name", ""))
        if not NAME_RE.fullmatch(name):
            problems.append("%s.name %r must be 1-63 lowercase letters, digits and '-', starting with a letter or digit"
                            % (where, instance.get("name")))
        else:
            where = "vllm_instances[%d] (%s)" % (index, name)
            if name in seen_names:
                problems.append("%s: name is also vllm_instances[%d]'s" % (where, seen_names[name]))
            seen_names.setdefault(name, index)
        numbers = {}
        for key in INT_KEYS:
            try:
                numbers[key] = _int(instance.get(key))
            except (TypeError, ValueError):
                problems.append("%s.%s must be an integer, got %r" % (where, key, instance.get(key)))
        port = numbers.get("port")
        if port is not None:
            if not 1024 <= port <= 65535:
                problems.append("%s.port %d must be 1024-65535" % (where, port))
            elif port in seen_ports:
                problems.append("%s.port %d is also vllm_instances[%d]'s" % (where, port, seen_ports[port]))
            seen_ports.setdefault(port, index)
        for key in ("max_model_len", "max_num_seqs", "tensor_parallel_size", "pipeline_parallel_size"):
            if key in numbers and numbers[key] < 1:
                problems.append("%s.%s must be >= 1, got %d" % (where, key, numbers[key]))
        for key in ("kv_cache_space_gib", "cpu_threads"):
            if key in numbers and numbers[key] < 0:
                problems.append("%s.%s must be >= 0, got %d" % (where, key, numbers[key]))
        ids = [instance.get("served_model_name")] + list(instance.get("aliases") or [])
        if not isinstance(instance.get("aliases", []), list):
            problems.append("%s.aliases must be a list of model ids" % where)
        for model_id in ids:
            if not valid_model_id(model_id or ""):
                problems.append("%s: model id %r (served_model_name, aliases) must start with a letter or digit and hold "
                                "only letters, digits and . _ : / @ + -" % (where, model_id))
            elif str(model_id) in seen_ids:
                problems.append("%s: model id %r is also served by vllm_instances[%d]" % (where, model_id, seen_ids[str(model_id)]))
            else:
                seen_ids[str(model_id)] = index
        problems += _model_problems(where, instance.get("model"))
        if str(instance.get("dtype", "auto")) not in DTYPES:
            problems.append("%s.dtype %r must be one of %s" % (where, instance.get("dtype"), ", ".join(DTYPES)))
        for key in ("quantization", "chat_template"):
            if re.search(r"\s", str(instance.get(key, ""))):
                problems.append("%s.%s %r must not hold whitespace" % (where, key, instance.get(key)))
        if not isinstance(instance.get("rope_scaling", {}), dict):
            problems.append("%s.rope_scaling must be a dict (vLLM's rope scaling JSON), got %r" % (where, instance.get("rope_scaling")))
        extra = instance.get("extra_args", [])
        if not isinstance(extra, list) or any(re.search(r"[\s\"'\\$`]", str(arg)) for arg in extra):
            problems.append("%s.extra_args must be a list of arguments without whitespace, quotes, '$', '`' or '\\'" % where)
        try:
            fraction = float(instance.get("gpu_memory_utilization"))
        except (TypeError, ValueError):
            fraction = None
            problems.append("%s.gpu_memory_utilization must be a number in (0, 1], got %r" % (where, instance.get("gpu_memory_utilization")))
        if fraction is not None and not 0 < fraction <= 1:
            problems.append("%s.gpu_memory_utilization %s must be in (0, 1]" % (where, fraction))
        devices = _devices(instance)
        parallel = numbers.get("tensor_parallel_size", 1) * numbers.get("pipeline_parallel_size", 1)
        if method == "cpu":
            if devices:
                problems.append("%s.cuda_visible_devices %r: vllm_install_method cpu runs on no GPU" % (where, ",".join(devices)))
            if parallel != 1:
                problems.append("%s: tensor_parallel_size x pipeline_parallel_size is %d, but vllm_install_method cpu serves an "
                                "instance in one process (set both to 1)" % (where, parallel))
            continue
        if not gpus:
            problems.append("%s: vllm_install_method %s needs NVIDIA GPUs, and nvidia-smi found none on the host" % (where, method))
            continue
        listed = devices or sorted(indexes, key=lambda value: int(value) if value.isdigit() else 0)
        unknown = [d for d in devices if d not in indexes and d not in uuids]
        if unknown:
            problems.append("%s.cuda_visible_devices names %s, which the host does not have (GPUs: %s)"
                            % (where, ", ".join(unknown), ", ".join(sorted(indexes)) or "none"))
        if devices and len(devices) != parallel:
            problems.append("%s: tensor_parallel_size x pipeline_parallel_size is %d, but cuda_visible_devices lists %d GPU(s)"
                            % (where, parallel, len(devices)))
        elif not devices and parallel != len(indexes):
            problems.append("%s: tensor_parallel_size x pipeline_parallel_size is %d, but the host has %d GPU(s); set "
                            "cuda_visible_devices to the ones this instance uses" % (where, parallel, len(indexes)))
        if fraction is not None:
            for device in listed:
                claims.setdefault(device, []).append((name, fraction))
    for device in sorted(claims):
        total = sum(fraction for dummy, fraction in claims[device])
        if len(claims[device]) > 1 and total > 1.0 + 1e-9:
            problems.append("GPU %s is claimed by %s: their gpu_memory_utilization adds up to %.2f, more than the whole GPU"
                            % (device, ", ".join("%s (%s)" % claim for claim in claims[device]), total))
    return problems


def _model_problems(where, model):
    if not isinstance(model, dict):
        return ["%s.model must be a model_store stage entry of a GGUF file or {name, path}, got %r" % (where, model)]
    problems = []
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(model.get("name", ""))):
        problems.append("%s.model.name %r may only hold letters, digits, '.', '_' and '-'" % (where, model.get("name")))
    if "path" in model:
        if not str(model["path"]).startswith("/") or re.search(r"\s", str(model["path"])):
            problems.append("%s.model.path %r must be an absolute folder on the host without whitespace" % (where, model["path"]))
        return problems
    if not SHA256_RE.fullmatch(str(model.get("sha256", ""))):
        problems.append("%s.model.sha256 must be 64 hex digits" % where)
    if not any(key in model for key in ("src", "url", "s3")):
        problems.append("%s.model needs one of src, url or s3 (a GGUF file to convert) or path (a Hugging Face folder)" % where)
    return problems


def vllm_context_problems(instances, configs):
    """Problems of max_model_len against each model's config.json (`configs`: model folder -> parsed config). A
    larger max_model_len than the model's max_position_embeddings is refused unless the instance sets rope_scaling."""
    problems = []
    for instance in instances or []:
        folder = instance.get("__folder")
        config = (configs or {}).get(folder)
        name = instance.get("name")
        if not isinstance(config, dict):
            problems.append("vllm_instances (%s): %s/config.json is missing or not JSON: a model folder needs a "
                            "Hugging Face config.json" % (name, folder))
            continue
        limit = config.get("max_position_embeddings") or (config.get("text_config") or {}).get("max_position_embeddings")
        if limit and int(instance.get("max_model_len", 0)) > int(limit) and not instance.get("rope_scaling"):
            problems.append("vllm_instances (%s): max_model_len %s is larger than the %s tokens model %s supports "
                            "(max_position_embeddings in its config.json); lower it, or set rope_scaling"
                            % (name, instance.get("max_model_len"), limit, folder))
    return problems


def vllm_args(instance, folder, listen_address, tls, method):
    """The argument list of vLLM's OpenAI server for one instance (the settings file holds it as one line)."""
    args = ["--model", folder,
            "--served-model-name", str(instance["served_model_name"])] + [str(a) for a in instance.get("aliases") or []]
    args += ["--host", str(listen_address), "--port", str(int(instance["port"])),
             "--ssl-keyfile", tls["key"], "--ssl-certfile", tls["cert"],
             "--max-model-len", str(int(instance["max_model_len"])),
             "--max-num-seqs", str(int(instance["max_num_seqs"])),
             "--dtype", str(instance.get("dtype", "auto")),
             "--tensor-parallel-size", str(int(instance.get("tensor_parallel_size", 1))),
             "--pipeline-parallel-size", str(int(instance.get("pipeline_parallel_size", 1))),
             "--enable-prefix-caching" if instance.get("enable_prefix_caching", True) else "--no-enable-prefix-caching",
             "--disable-uvicorn-access-log", "--disable-fastapi-docs"]
    if method != "cpu":
        args += ["--gpu-memory-utilization", str(float(instance["gpu_memory_utilization"]))]
    if instance.get("enforce_eager", True):
        args.append("--enforce-eager")
    if instance.get("quantization"):
        args += ["--quantization", str(instance["quantization"])]
    if instance.get("chat_template"):
        args += ["--chat-template", str(instance["chat_template"])]
    if instance.get("rope_scaling"):
        args += ["--hf-overrides", json.dumps({"rope_scaling": instance["rope_scaling"]}, sort_keys=True, separators=(",", ":"))]
    args += [str(a) for a in instance.get("extra_args") or []]
    return args


class FilterModule(object):
    def filters(self):
        return {
            "vllm_instance_problems": vllm_instance_problems,
            "vllm_model_path": vllm_model_path,
            "vllm_context_problems": vllm_context_problems,
            "vllm_args": vllm_args,
        }

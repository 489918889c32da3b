import pytest

from ansible_collections.llm_infra.cluster.plugins.filter.llama_cpp import llama_cpp_flash_attn, llama_cpp_instance_problems

DEFAULTS = {"ctx_size": 4096, "parallel": 2, "batch_size": 2048, "ubatch_size": 512, "gpu_layers": 0, "flash_attn": "auto"}
MODEL = {"name": "qwen", "sha256": "a" * 64, "src": "/srv/qwen.gguf"}


def inst(name, alias, port, **extra):
    entry = {"name": name, "alias": alias, "port": port, "model": MODEL}
    entry.update(extra)
    return entry


def test_valid_instances_have_no_problem():
    assert llama_cpp_instance_problems([inst("a", "m1", 8443), inst("b", "m2", 8444)], DEFAULTS, "10.0.0.5") == []
    assert llama_cpp_instance_problems([], DEFAULTS, "fd00::5") == []


def test_missing_keys_are_named_once():
    problems = llama_cpp_instance_problems([{"name": "a", "port": 1}, {"alias": "m", "port": 2, "model": MODEL}], {}, "10.0.0.5")
    assert problems[0] == "llama_cpp_instances: every entry needs name, alias, port and model"
    assert "names must be unique" in problems[1]


def test_an_alias_from_the_defaults_counts():
    assert llama_cpp_instance_problems([{"name": "a", "port": 1, "model": MODEL}], {"alias": "m"}, "10.0.0.5") == []


def test_names_must_be_unique_and_plain():
    [problem] = llama_cpp_instance_problems([inst("a", "m1", 1), inst("a", "m2", 2)], {}, "10.0.0.5")
    assert problem == "llama_cpp_instances: names must be unique, lower case letters, digits and - (got a, a)"
    for bad in ("Main", "-a", "a_b", "a b", "a\n"):
        [problem] = llama_cpp_instance_problems([inst(bad, "m1", 1)], {}, "10.0.0.5")
        assert problem.startswith("llama_cpp_instances: names must be unique")


def test_aliases_are_compared_without_case():
    [problem] = llama_cpp_instance_problems([inst("a", "Qwen", 1), inst("b", "qwen", 2)], {}, "10.0.0.5")
    assert problem == "llama_cpp_instances: aliases must be unique (got Qwen, qwen)"


def test_a_shared_port_names_the_instances_that_share_it():
    problems = llama_cpp_instance_problems(
        [inst("a", "m1", 8443), inst("b", "m2", 8444), inst("c", "m3", 8443), inst("d", "m4", 8444), inst("e", "m5", 9000)],
        {}, "10.0.0.5")
    assert problems == ["llama_cpp_instances: port 8443, 8444 is used by more than one instance (a, b, c, d)"]


def test_ports_out_of_range_or_not_numbers():
    [problem] = llama_cpp_instance_problems([inst("a", "m1", -3), inst("b", "m2", 65536), inst("c", "m3", "x8")], {}, "10.0.0.5")
    assert problem == "llama_cpp_instances: ports must be 1-65535 (got -3, 65536, 0)"
    # Two ports that are not numbers both count as 0; the instances are named by the port they were given.
    assert llama_cpp_instance_problems([inst("a", "m1", 0), inst("b", "m2", "x8")], {}, "10.0.0.5")[0] == (
        "llama_cpp_instances: port 0 is used by more than one instance (a)")


def test_the_listen_address_must_be_an_ip_address():
    for bad in ("srv-1", "", None, "10.0.0.5 "):
        [problem] = llama_cpp_instance_problems([], {}, bad)
        assert problem.startswith("llama_cpp_listen_address ") and problem.endswith(
            "must be an IP address (llm_infra_private_address by default)")
    assert '"srv-1"' in llama_cpp_instance_problems([], {}, "srv-1")[0]


@pytest.mark.parametrize("value, on_gpu, expected", [
    ("auto", True, "on"), ("auto", False, "auto"), ("on", False, "on"), ("off", True, "off"),
    (True, False, "on"), (False, True, "off"), ("True", False, "on"), ("False", True, "off"),
])
def test_flash_attn(value, on_gpu, expected):
    assert llama_cpp_flash_attn(value, on_gpu) == expected


# The expressions the role used before these filters, rendered by Ansible: the filters must give the same results.
OLD_PROBLEMS = """{{ (['llama_cpp_instances: every entry needs name, alias, port and model']
    if (__llama_cpp_names | select | list | length != __llama_cpp_names | length)
       or (__llama_cpp_aliases | select | list | length != __llama_cpp_aliases | length)
       or (__llama_cpp_instances | rejectattr('model', 'defined') | list | length > 0) else [])
   + (['llama_cpp_instances: names must be unique, lower case letters, digits and - (got ' ~ (__llama_cpp_names | join(', ')) ~ ')']
      if __llama_cpp_names | unique | length != __llama_cpp_names | length
         or __llama_cpp_names | reject('match', '^[a-z0-9][a-z0-9-]*$') | list | length > 0 else [])
   + (['llama_cpp_instances: aliases must be unique (got ' ~ (__llama_cpp_aliases | join(', ')) ~ ')']
      if __llama_cpp_aliases | unique | length != __llama_cpp_aliases | length else [])
   + (['llama_cpp_instances: port ' ~ (__llama_cpp_ports | community.general.counter | dict2items | selectattr('value', 'gt', 1)
         | map(attribute='key') | join(', ')) ~ ' is used by more than one instance ('
       ~ (__llama_cpp_instances | selectattr('port', 'in', __llama_cpp_ports | community.general.counter | dict2items
            | selectattr('value', 'gt', 1) | map(attribute='key') | list) | map(attribute='name') | join(', ')) ~ ')']
      if __llama_cpp_ports | unique | length != __llama_cpp_ports | length else [])
   + (['llama_cpp_instances: ports must be 1-65535 (got ' ~ (__llama_cpp_ports | join(', ')) ~ ')']
      if (__llama_cpp_ports | select('lt', 1) | list + __llama_cpp_ports | select('gt', 65535) | list) | length > 0 else [])
   + (['llama_cpp_listen_address ' ~ (llama_cpp_listen_address | to_json) ~ ' must be an IP address (llm_infra_private_address by default)']
      if llama_cpp_listen_address is not ansible.utils.ip_address else []) }}"""
OLD_VARS = {
    "__llama_cpp_instances": "{{ [llama_cpp_instance_defaults] | product(llama_cpp_instances) | map('ansible.builtin.combine') | list }}",
    "__llama_cpp_names": "{{ llama_cpp_instances | map(attribute='name', default='') | list }}",
    "__llama_cpp_ports": "{{ __llama_cpp_instances | map(attribute='port', default=0) | map('int') | list }}",
    "__llama_cpp_aliases": "{{ __llama_cpp_instances | map(attribute='alias', default='') | list }}",
}
OLD_FLASH_ATTN = ("{{ ((instance.flash_attn if instance.flash_attn | string not in ['True', 'False'] else ('on' if instance.flash_attn else 'off'))"
                  " if not on_gpu or instance.flash_attn != 'auto' else 'on') }}")

PROBLEM_CASES = [
    ([inst("a", "m1", 8443), inst("b", "m2", 8444)], {}, "10.0.0.5"),
    ([], DEFAULTS, "fd00::5"),
    ([{"name": "a", "port": 1}, {"alias": "m", "port": 2, "model": MODEL}], {}, "10.0.0.5"),
    ([{"name": "a", "port": 1, "model": MODEL}], {"alias": "m"}, "10.0.0.5"),
    ([inst("a", "m1", 1), inst("a", "m2", 2), inst("Main", "m3", 3), inst("a_b", "m4", 4)], DEFAULTS, "10.0.0.5"),
    ([inst("a", "Qwen", 1), inst("b", "qwen", 2)], {}, "10.0.0.5"),
    ([inst("a", "m1", 8443), inst("b", "m2", 8444), inst("c", "m3", 8443), inst("d", "m4", 8444), inst("e", "m5", 9000)], {}, "10.0.0.5"),
    ([inst("a", "m1", 8443), inst("b", "m2", "8443")], {}, "10.0.0.5"),
    ([inst("a", "m1", 0), inst("b", "m2", 65536), inst("c", "m3", "x8")], {}, "10.0.0.5"),
    ([inst("a", "m1", 1)], {}, "srv-1"),
    ([inst("a", "m1", 1), inst("a", "m1", 1)], {}, ""),
]
FLASH_CASES = [(value, on_gpu) for value in ("auto", "on", "off", True, False, "True") for on_gpu in (True, False)]


def test_same_results_as_the_jinja_the_role_used(render_in_play):
    cases = [(OLD_PROBLEMS, dict(OLD_VARS, llama_cpp_instances=instances, llama_cpp_instance_defaults=defaults,
                                 llama_cpp_listen_address=address))
             for instances, defaults, address in PROBLEM_CASES]
    cases += [(OLD_FLASH_ATTN, {"instance": {"flash_attn": value}, "on_gpu": on_gpu}) for value, on_gpu in FLASH_CASES]
    rendered = render_in_play(cases)
    for (instances, defaults, address), old in zip(PROBLEM_CASES, rendered):
        assert llama_cpp_instance_problems(instances, defaults, address) == old
    for (value, on_gpu), old in zip(FLASH_CASES, rendered[len(PROBLEM_CASES):]):
        assert llama_cpp_flash_attn(value, on_gpu) == old

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.filter.haproxy import (
    haproxy_backends,
    haproxy_gateway_problems,
    haproxy_serving_instances,
)


def instance(model="gemma", host="srv1", port=8443, **extra):
    item = {
        "instance": "main",
        "model": model,
        "address": "10.0.0.%d" % (len(host) + port % 7),
        "port": port,
        "scheme": "https",
        "health_path": "/health",
        "api_key_credential": "llama_cpp/backend-api-key",
        "host": host,
    }
    item.update(extra)
    return item


GOOD_KEYS = [{"name": "team-a"}, {"name": "team_b", "key": "k" * 20, "requests_per_minute": 10, "max_concurrent": 2}]


def test_serving_instances_come_from_every_host_with_the_host_name_added():
    hostvars = {
        "srv1": {"ansible_local": {"llm_infra_serving_llama_cpp": {"instances": [{"model": "a", "address": "10.0.0.1", "port": 1}]}}},
        "srv2": {"ansible_local": {}},
        "srv3": {"ansible_local": {"llm_infra_serving_llama_cpp": {"instances": [{"model": "b", "address": "10.0.0.3", "port": 2}]}}},
    }
    result = haproxy_serving_instances(hostvars, ["srv1", "srv2", "srv3", "missing"])
    assert [(i["host"], i["model"]) for i in result] == [("srv1", "a"), ("srv3", "b")]
    # The input facts are not modified.
    assert "host" not in hostvars["srv1"]["ansible_local"]["llm_infra_serving_llama_cpp"]["instances"][0]


def test_one_backend_per_model_with_all_its_servers_and_aliases():
    backends = haproxy_backends(
        [instance("gemma", "srv1"), instance("tiny/x:1", "srv2", 8444), instance("gemma", "srv2")],
        {"gpt-4o-mini": "gemma", "small": "tiny/x:1"},
    )
    assert [b["name"] for b in backends] == ["model_gemma", "model_tiny_x_1"]
    gemma = backends[0]
    assert [s["name"] for s in gemma["servers"]] == ["srv1_main", "srv2_main"]
    assert gemma["aliases"] == ["gpt-4o-mini"]
    assert backends[1]["aliases"] == ["small"]
    assert gemma["servers"][0]["host"] == "srv1" and gemma["servers"][0]["port"] == 8443


def test_backend_name_collisions_are_refused():
    with pytest.raises(AnsibleFilterError, match="one backend name"):
        haproxy_backends([instance("a/b"), instance("a:b", "srv2")])


def test_good_input_has_no_problem():
    assert haproxy_gateway_problems(GOOD_KEYS, [instance()], {"alias": "gemma"}, 600, 16) == []


@pytest.mark.parametrize(
    ("keys", "fragment"),
    [
        ([{"key": "k" * 20}], "haproxy_api_keys[0] has no name"),
        ([{"name": ""}], "haproxy_api_keys[0] has no name"),
        ([{"name": "a"}, {"name": "a"}], "haproxy_api_keys: the name 'a' is used twice (entries 0 and 1)"),
        ([{"name": "a b"}], "haproxy_api_keys[0].name 'a b'"),
        ([{"name": "a", "requests_per_minute": 0}], "haproxy_api_keys[0].requests_per_minute must be a positive integer, got 0"),
        ([{"name": "a", "max_concurrent": -1}], "haproxy_api_keys[0].max_concurrent must be a positive integer, got -1"),
        ([{"name": "a", "key": "short"}], "haproxy_api_keys[0].key must be a string of at least 16"),
        ("nope", "haproxy_api_keys must be a list"),
    ],
)
def test_key_problems_name_the_variable(keys, fragment):
    problems = haproxy_gateway_problems(keys, [instance()], {}, 600, 16)
    assert any(fragment in p for p in problems), problems


@pytest.mark.parametrize(
    ("rpm", "conc", "fragment"),
    [(0, 1, "haproxy_api_key_requests_per_minute"), (1, -2, "haproxy_api_key_max_concurrent"), ("x", 1, "got 'x'")],
)
def test_global_limits_must_be_positive(rpm, conc, fragment):
    assert any(fragment in p for p in haproxy_gateway_problems([], [instance()], {}, rpm, conc))


@pytest.mark.parametrize(
    ("instances", "aliases", "fragment"),
    [
        ([], {}, "haproxy_llm_backends is empty"),
        ([instance()], {"gpt": "llama"}, "haproxy_model_aliases: 'gpt' is routed to model 'llama', which no backend serves (served: gemma)"),
        ([instance()], {"gemma": "gemma"}, "alias 'gemma' is already a served model"),
        ([{"model": "m", "port": 1}], {}, "haproxy_llm_backends[0] lacks address"),
        ([instance(port=70000)], {}, "haproxy_llm_backends[0].port 70000"),
        ([instance(scheme="http")], {}, "only https backends"),
        ([instance(model="it's")], {}, "haproxy_llm_backends[0].model"),
        ([instance(), instance(host="srv2", api_key_credential="other/key")], {}, "use different api_key_credential"),
    ],
)
def test_backend_and_alias_problems_name_the_variable(instances, aliases, fragment):
    problems = haproxy_gateway_problems([], instances, aliases, 600, 16)
    assert any(fragment in p for p in problems), problems

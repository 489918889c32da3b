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


CRED = "llama_cpp/backend-api-key"


def published(address="10.0.0.1", **extra):
    item = {"instance": "main", "model": "gemma", "address": address, "port": 8443, "scheme": "https", "health_path": "/health"}
    item.update(extra)
    return item


def serving_hostvars(*instances):
    return {
        "srv1": {"llm_infra_private_address": "10.0.0.1",
                 "ansible_local": {"llm_infra_serving_llama_cpp": {"instances": list(instances) or [published("10.0.0.1")]}}},
        "srv2": {"llm_infra_private_address": "10.0.0.2", "ansible_local": {}},
        "srv3": {"llm_infra_private_address": "10.0.0.3",
                 "ansible_local": {"llm_infra_serving_llama_cpp": {"instances": [published("10.0.0.3", model="b", port=2)]}}},
    }


def test_serving_instances_come_from_every_host_with_the_controllers_credential():
    hostvars = serving_hostvars()
    result = haproxy_serving_instances(hostvars, ["srv1", "srv2", "srv3", "missing"], "llm_infra_serving_llama_cpp", CRED)
    assert [(i["host"], i["model"], i["port"]) for i in result] == [("srv1", "gemma", 8443), ("srv3", "b", 2)]
    assert {i["api_key_credential"] for i in result} == {CRED}
    # The input facts are not modified.
    assert "host" not in hostvars["srv1"]["ansible_local"]["llm_infra_serving_llama_cpp"]["instances"][0]


def test_a_fact_that_repeats_the_controllers_credential_is_accepted():
    hostvars = serving_hostvars(published("10.0.0.1", api_key_credential=CRED, host="srv1"))
    [item, _srv3] = haproxy_serving_instances(hostvars, ["srv1", "srv3"], "llm_infra_serving_llama_cpp", CRED)
    assert item["api_key_credential"] == CRED and item["host"] == "srv1"


@pytest.mark.parametrize(
    "extra, expected",
    [
        # A serving host asks for another service's secret to be put in haproxy.cfg and sent to it.
        ({"api_key_credential": "minio/root"},
         "srv1: instances[0] asks for api_key_credential 'minio/root', but the controller gives this engine's backends "
         "'llama_cpp/backend-api-key'"),
        ({"api_key_credential": "vault-init.pass"}, "asks for api_key_credential 'vault-init.pass'"),
        ({"api_key_credential": "vault/approle-secret-id"}, "asks for api_key_credential 'vault/approle-secret-id'"),
        # Malformed data that would become directives or drop verification in haproxy.cfg.
        ({"address": "10.0.0.1\n    server evil 203.0.113.9:443"}, "srv1: instances[0].address '10.0.0.1\\n    server evil"),
        ({"address": "10.0.0.9"}, "instances[0].address '10.0.0.9' is not the host's llm_infra_private_address '10.0.0.1'"),
        ({"host": ""}, "srv1: instances[0].host '' is not the inventory name 'srv1'"),
        ({"host": "srv3"}, "instances[0].host 'srv3' is not the inventory name 'srv1'"),
        ({"model": "gemma\nbackend evil"}, "instances[0].model 'gemma\\nbackend evil' may only hold"),
        ({"model": "gemma 'x'"}, "may only hold letters"),
        ({"port": "8443\n"}, "instances[0].port '8443\\n' must be 1-65535"),
        ({"port": 0}, "instances[0].port 0 must be 1-65535"),
        ({"scheme": "http"}, "only https backends are accepted"),
        ({"health_path": "/health hdr Host evil"}, "must be a plain absolute path"),
        ({"instance": "a/b"}, "instances[0].instance 'a/b' may only hold"),
    ],
)
def test_a_serving_hosts_bad_or_greedy_fact_is_refused(extra, expected):
    hostvars = serving_hostvars(published(**extra))
    with pytest.raises(AnsibleFilterError) as raised:
        haproxy_serving_instances(hostvars, ["srv1", "srv3"], "llm_infra_serving_llama_cpp", CRED)
    assert "nothing was rendered" in str(raised.value)
    assert expected in str(raised.value), str(raised.value)


def test_the_backend_credential_must_come_from_the_caller():
    with pytest.raises(AnsibleFilterError, match="api_key_credential must name the credential"):
        haproxy_serving_instances(serving_hostvars(), ["srv1"], "llm_infra_serving_llama_cpp")


def test_a_fact_that_is_not_a_list_of_instances_is_refused():
    hostvars = serving_hostvars()
    hostvars["srv2"]["ansible_local"]["llm_infra_serving_llama_cpp"] = {"instances": "10.0.0.2:8443"}
    with pytest.raises(AnsibleFilterError, match="srv2: local fact llm_infra_serving_llama_cpp must be"):
        haproxy_serving_instances(hostvars, ["srv1", "srv2"], "llm_infra_serving_llama_cpp", CRED)


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


def test_one_model_served_by_two_engines_pools_only_with_one_key():
    from ansible_collections.llm_infra.cluster.plugins.filter.haproxy import haproxy_backends as backends_of
    llama = {"model": "qwen", "address": "10.0.0.11", "port": 8081, "host": "a", "instance": "q", "api_key_credential": "shared/key"}
    vllm = {"model": "qwen", "address": "10.0.0.12", "port": 8201, "host": "b", "instance": "q", "api_key_credential": "shared/key"}
    [backend] = backends_of([llama, vllm])
    assert [server["name"] for server in backend["servers"]] == ["a_q", "b_q"]
    with pytest.raises(AnsibleFilterError, match="served with two backend keys"):
        backends_of([llama, dict(vllm, api_key_credential="vllm/backend-api-key")])


def test_two_instances_of_one_name_on_one_host_are_refused():
    from ansible_collections.llm_infra.cluster.plugins.filter.haproxy import haproxy_backends as backends_of
    one = {"model": "qwen", "address": "10.0.0.11", "port": 8081, "host": "a", "instance": "q"}
    with pytest.raises(AnsibleFilterError, match="two instances named 'q' on a"):
        backends_of([one, dict(one, port=8201)])


def test_without_known_instances_only_the_inputs_are_checked():
    # A run of the checks alone on a new site: no instance published yet, aliases route to models to come.
    assert haproxy_gateway_problems(GOOD_KEYS, None, {"alias": "gemma"}, 600, 16) == []
    problems = haproxy_gateway_problems([], None, {"bad alias": "gemma"}, 0, 16)
    assert any("haproxy_api_key_requests_per_minute" in p for p in problems)
    assert any("may only hold letters" in p for p in problems)
    assert not any("no backend serves" in p or "haproxy_llm_backends" in p for p in problems)
    # Once the serving layer has run, the same aliases are checked against what is served.
    assert any("no backend serves" in p for p in haproxy_gateway_problems(GOOD_KEYS, [], {"alias": "gemma"}, 600, 16))

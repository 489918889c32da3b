import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.filter.service_probes import (
    object_store_endpoint, service_endpoints, service_listener_probes)

GROUPS = {
    "all": ["gw-1", "db-1", "srv-1", "srv-2", "mon-1"],
    "gateway": ["gw-1"],
    "serving": ["srv-1", "srv-2"],
    "monitoring": ["mon-1"],
    "database": ["db-1"],
    "ungrouped": [],
}
FACTS = {
    "llm_infra_service_postgresql": {"name": "postgresql", "listeners": [{"port": 5432, "allow_groups": ["serving", "monitoring"]}]},
    "something_else": {"listeners": [{"port": 1}]},
    "llm_infra_service_keepalived": {"name": "keepalived", "listeners": [{"proto": "vrrp", "allow_groups": ["gateway"]}]},
    "llm_infra_service_haproxy": {"name": "haproxy", "listeners": [
        {"port": "443", "allow_groups": [], "allow_cidrs": ["0.0.0.0/0"]},
        {"port": 8404, "proto": "tcp", "allow_groups": ["monitoring", "nope"]},
    ]},
    "llm_infra_service_llama_cpp_main": {"name": "llama_cpp_main", "listeners": [{"port": 8443, "allow_groups": ["serving", "gateway"]}]},
    "llm_infra_service_quiet": {"name": "quiet"},
}


def test_one_probe_per_tcp_listener_in_declaration_order():
    assert service_listener_probes(FACTS, GROUPS, "srv-1") == [
        {"service": "postgresql", "port": 5432, "allowed": ["srv-2"], "refused": ["gw-1"]},
        {"service": "haproxy", "port": 443, "allowed": [], "refused": []},
        {"service": "haproxy", "port": 8404, "allowed": ["mon-1"], "refused": ["gw-1"]},
        {"service": "llama_cpp_main", "port": 8443, "allowed": ["srv-2"], "refused": ["db-1"]},
    ]


def test_the_host_itself_is_never_a_probe_host():
    [probe] = service_listener_probes({"llm_infra_service_x": {"name": "x", "listeners": [{"port": 1, "allow_groups": ["gateway"]}]}},
                                      {"all": ["localhost", "gw-1"], "gateway": ["gw-1"]}, "gw-1")
    assert probe == {"service": "x", "port": 1, "allowed": [], "refused": []}


def test_no_declarations():
    assert service_listener_probes({}, GROUPS, "srv-1") == []
    assert service_listener_probes(None, GROUPS, "srv-1") == []


def test_a_malformed_declaration_is_named():
    with pytest.raises(AnsibleFilterError, match="llm_infra_service_x of srv-1 must be a dict"):
        service_listener_probes({"llm_infra_service_x": "text"}, GROUPS, "srv-1")


OLD_PROBES = """{%- set probes = [] -%}
{%- for key, svc in (ansible_local_ | default({})).items() if key.startswith('llm_infra_service_') -%}
{%-   for listener in svc.listeners | default([]) if listener.proto | default('tcp') == 'tcp' -%}
{%-     set allowed = listener.allow_groups | default([]) | map('extract', groups_) | select('defined') | flatten | unique
          | reject('equalto', host_) | list -%}
{%-     set refused = [] if listener.allow_cidrs | default([]) | length > 0
          else groups_['all'] | difference(['localhost', host_]) | difference(allowed) -%}
{%-     set _ = probes.append({'service': svc.name, 'port': listener.port | int,
                               'allowed': allowed[:1], 'refused': refused[:1]}) -%}
{%-   endfor -%}
{%- endfor -%}
{{ probes }}"""


def _outside(allow_groups, host):
    allowed = {member for group, members in GROUPS.items() if group in allow_groups for member in members}
    return set(GROUPS["all"]) - allowed - {host, "localhost"}


def test_same_probes_as_the_jinja_verify_used(render_in_play):
    hosts = ["srv-1", "gw-1", "mon-1", "db-1"]
    rendered = render_in_play([(OLD_PROBES, {"ansible_local_": FACTS, "groups_": GROUPS, "host_": host}) for host in hosts])
    for host, old in zip(hosts, rendered):
        new = service_listener_probes(FACTS, GROUPS, host)
        assert [dict(probe, refused=bool(probe["refused"])) for probe in new] == [dict(probe, refused=bool(probe["refused"])) for probe in old]
        # Ansible's difference goes through a set, so the expression refused any one host outside the allowed groups,
        # a different one from run to run; the filter takes the first in inventory order.
        listeners = [listener for key in FACTS if key.startswith("llm_infra_service_") for listener in FACTS[key].get("listeners", [])
                     if listener.get("proto", "tcp") == "tcp"]
        for listener, probe, old_probe in zip(listeners, new, old):
            outside = _outside(listener.get("allow_groups", []), host)
            assert set(probe["refused"]) <= outside and set(old_probe["refused"]) <= outside
            assert probe["refused"] == ([member for member in GROUPS["all"] if member in outside][:1] if not listener.get("allow_cidrs") else [])


def declared(service, port=None, scheme="https", listeners=None, address="10.0.0.5"):
    declaration = {"name": service, "listeners": listeners if listeners is not None else [{"proto": "tcp", "port": port}]}
    if port is not None:
        declaration["health"] = {"scheme": scheme, "port": port, "path": "/ready"}
    return {"llm_infra_private_address": address, "ansible_local": {"llm_infra_service_" + service: declaration}}


def test_endpoints_come_from_each_hosts_declaration_and_address():
    hostvars = {"mon-1": declared("loki", 3101), "mon-2": declared("loki", "3102", address="mon-2.example.net")}
    assert service_endpoints(["mon-1", "mon-2"], hostvars, "loki", "/loki/api/v1/push") == [
        {"host": "mon-1", "address": "10.0.0.5", "port": 3101, "scheme": "https", "hostport": "10.0.0.5:3101",
         "url": "https://10.0.0.5:3101/loki/api/v1/push"},
        {"host": "mon-2", "address": "mon-2.example.net", "port": 3102, "scheme": "https",
         "hostport": "mon-2.example.net:3102", "url": "https://mon-2.example.net:3102/loki/api/v1/push"},
    ]


def test_an_ipv6_address_is_bracketed_and_a_tcp_health_check_means_https():
    hostvars = {"db": declared("postgresql", 5433, scheme="tcp", address="fd00::7")}
    [endpoint] = service_endpoints(["db"], hostvars, "postgresql")
    assert endpoint["hostport"] == "[fd00::7]:5433"
    assert endpoint["url"] == "https://[fd00::7]:5433"


def test_without_a_health_port_the_first_tcp_listener_counts():
    hostvars = {"gw": declared("haproxy", listeners=[{"proto": "vrrp"}, {"proto": "tcp", "port": 8443}])}
    assert service_endpoints(["gw"], hostvars, "haproxy")[0]["port"] == 8443


def test_facts_inside_ansible_facts_are_found():
    vars_ = declared("minio", 9000)
    hostvars = {"s3": {"llm_infra_private_address": "10.0.0.9", "ansible_facts": {"ansible_local": vars_["ansible_local"]}}}
    assert service_endpoints(["s3"], hostvars, "minio")[0]["url"] == "https://10.0.0.9:9000"


@pytest.mark.parametrize("hostvars, needle", [
    ({"mon": {"llm_infra_private_address": "10.0.0.5", "ansible_local": {}}}, "mon has no declaration llm_infra_service_loki"),
    ({"mon": declared("loki", 3100, address="10.0.0.5\n  server evil 1.2.3.4")}, "llm_infra_private_address"),
    ({"mon": declared("loki", "31oo")}, "declares no port 1-65535"),
    ({"mon": declared("loki", listeners=[])}, "declares no port 1-65535"),
    ({}, "mon is not in the inventory"),
])
def test_a_missing_or_malformed_declaration_is_refused_naming_host_and_fact(hostvars, needle):
    with pytest.raises(AnsibleFilterError, match="service_endpoints\\(loki\\)") as refused:
        service_endpoints(["mon"], hostvars, "loki")
    assert needle in str(refused.value)


def test_the_object_store_is_the_first_storage_hosts_minio_declaration():
    hostvars = {"storage-1": declared("minio", 9100, address="10.0.0.9"), "storage-2": declared("minio", 9000, address="10.0.0.10")}
    assert object_store_endpoint(["storage-1", "storage-2"], hostvars) == {
        "host": "storage-1", "address": "10.0.0.9", "port": 9100, "scheme": "https", "hostport": "10.0.0.9:9100",
        "url": "https://10.0.0.9:9100", "name_url": "https://storage-1:9100"}


def test_an_ipv6_object_store_is_bracketed_by_address_and_named_by_inventory_name():
    endpoint = object_store_endpoint(["s3.example.net"], {"s3.example.net": declared("minio", 9000, address="fd00::9")})
    assert endpoint["url"] == "https://[fd00::9]:9000"
    assert endpoint["name_url"] == "https://s3.example.net:9000"


@pytest.mark.parametrize("hosts", [[], None, ""])
def test_without_storage_hosts_there_is_no_object_store(hosts):
    assert object_store_endpoint(hosts, {}) == {}


@pytest.mark.parametrize("hosts, hostvars, needle", [
    (["storage-1"], {"storage-1": {"llm_infra_private_address": "10.0.0.9", "ansible_local": {}}},
     "storage-1 has no declaration llm_infra_service_minio"),
    (["storage-1"], {"storage-1": declared("minio", 9000, scheme="http")}, "need https"),
    (["storage_1"], {"storage_1": declared("minio", 9000)}, "no DNS name"),
    (["storage-1"], {"storage-1": declared("minio", "9000\n")}, "declares no port"),
    ("storage-1", {}, "as a list"),
])
def test_an_object_store_that_clients_cannot_verify_is_refused_naming_the_host(hosts, hostvars, needle):
    with pytest.raises(AnsibleFilterError) as refused:
        object_store_endpoint(hosts, hostvars)
    assert needle in str(refused.value)


def test_an_undeclared_object_store_is_empty_only_when_not_required():
    hostvars = {"storage-1": {"llm_infra_private_address": "10.0.0.9", "ansible_local": {}}}
    assert object_store_endpoint(["storage-1"], hostvars, required=False) == {}
    assert object_store_endpoint(["storage-1"], {}, required=False) == {}
    # A declaration that is there but wrong is refused either way.
    with pytest.raises(AnsibleFilterError, match="need https"):
        object_store_endpoint(["storage-1"], {"storage-1": declared("minio", 9000, scheme="http")}, required=False)

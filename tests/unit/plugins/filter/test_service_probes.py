import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.filter.service_probes import service_listener_probes

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

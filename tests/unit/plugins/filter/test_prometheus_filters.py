"""Unit tests of the prometheus_* filters: rule file checks, `for` overrides, targets from service declarations."""

import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.filter.prometheus_rules import (
    prometheus_rule_problems,
    prometheus_rules_for,
)
from ansible_collections.llm_infra.cluster.plugins.filter.prometheus_targets import (
    prometheus_targets_from_facts,
    target_from_declaration,
)

GOOD = """groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
        for: 1m
      - record: job:up:sum
        expr: sum by (job) (up)
"""


def test_valid_file_has_no_problems():
    assert prometheus_rule_problems(GOOD) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("groups: [\n  - name: x", "does not parse as YAML"),
        ("rules: []", "no 'groups' list"),
        ("groups:\n  - rules: []", "groups[0] has no name"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A", "group 'g' rules[0] has no expr"),
        ("groups:\n  - name: g\n    rules:\n      - expr: up", "exactly one of 'alert' or 'record'"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: soon", "invalid 'for' duration"),
    ],
)
def test_problems_are_named(text, expected):
    problems = prometheus_rule_problems(text)
    assert any(expected in p for p in problems), problems


def test_for_override_changes_only_the_named_alert():
    out = yaml.safe_load(prometheus_rules_for(GOOD, {"A": "10s"}))
    assert out["groups"][0]["rules"][0]["for"] == "10s"
    assert "for" not in out["groups"][0]["rules"][1]


def test_no_override_keeps_the_text_byte_for_byte():
    assert prometheus_rules_for(GOOD, {}) is GOOD
    assert prometheus_rules_for(GOOD, {"Other": "5s"}) is GOOD


def test_bad_override_duration_is_refused():
    with pytest.raises(AnsibleFilterError, match="prometheus_alert_for_overrides"):
        prometheus_rules_for(GOOD, {"A": "soon"})


SCRAPE_AUTH = [
    {"jobs": "llama_cpp_[A-Za-z0-9_]+", "groups": ["serving"], "auth": "bearer", "credential": "llama_cpp/backend-api-key"},
    {"jobs": "minio", "groups": ["storage"], "auth": "bearer", "token": "minio_jwt", "username": "prometheus",
     "credential": "minio/prometheus"},
    {"jobs": "prometheus", "groups": ["monitoring"], "auth": "basic", "username": "admin", "credential": "prometheus/web-admin"},
]
GROUPS = {"all": ["db-1", "st-1", "srv-1", "mon-1", "bare"], "database": ["db-1"], "storage": ["st-1"],
          "serving": ["srv-1"], "monitoring": ["mon-1"]}


def _hostvars():
    return {
        "db-1": {
            "llm_infra_private_address": "10.0.0.5",
            "ansible_local": {
                "llm_infra_service_postgresql": {"name": "postgresql", "metrics": {}},
                "llm_infra_service_postgres_exporter": {
                    "name": "postgres_exporter",
                    "metrics": {"scheme": "https", "port": 9187, "path": "/metrics", "auth": "none"},
                },
                "other_fact": {"metrics": {"port": 1}},
            },
        },
        "st-1": {
            "llm_infra_private_address": "10.0.0.6",
            "ansible_facts": {
                "ansible_local": {
                    "llm_infra_service_minio": {
                        "name": "minio",
                        "metrics": {"scheme": "https", "port": 9000, "path": "/minio/v2/metrics/cluster", "auth": "bearer",
                                    "token": "minio_jwt", "username": "prometheus", "credential": "minio/prometheus"},
                    },
                }
            },
        },
        "srv-1": {
            "llm_infra_private_address": "10.0.0.7",
            "ansible_local": {
                "llm_infra_service_llama_cpp_main": {"name": "llama_cpp_main", "metrics": {"port": 8080, "auth": "bearer"}},
            },
        },
        "mon-1": {
            "llm_infra_private_address": "mon-1.cluster.internal",
            "ansible_local": {
                "llm_infra_service_prometheus": {
                    "name": "prometheus",
                    "metrics": {"scheme": "https", "port": 9090, "auth": "basic", "username": "admin", "credential": "prometheus/web-admin"},
                },
            },
        },
        "bare": {},
    }


def _targets(hostvars):
    return prometheus_targets_from_facts(list(hostvars), hostvars, SCRAPE_AUTH, GROUPS)


def test_targets_take_their_credentials_from_the_controller_table():
    by_job = {t["job"]: t for t in _targets(_hostvars())}
    assert sorted(by_job) == ["llama_cpp_main", "minio", "postgres_exporter", "prometheus"]
    assert by_job["postgres_exporter"] == {
        "job": "postgres_exporter", "host": "db-1", "address": "10.0.0.5", "port": 9187,
        "scheme": "https", "path": "/metrics", "auth": "none",
    }
    assert by_job["minio"] == {
        "job": "minio", "host": "st-1", "address": "10.0.0.6", "port": 9000, "scheme": "https",
        "path": "/minio/v2/metrics/cluster", "auth": "bearer", "token": "minio_jwt", "username": "prometheus",
        "credential": "minio/prometheus",
    }
    # The serving host's declaration names no credential: the controller's table supplies it.
    assert by_job["llama_cpp_main"]["credential"] == "llama_cpp/backend-api-key"
    assert by_job["llama_cpp_main"]["token"] == "credential"
    assert by_job["llama_cpp_main"]["scheme"] == "http"
    assert (by_job["prometheus"]["username"], by_job["prometheus"]["credential"]) == ("admin", "prometheus/web-admin")


def test_a_path_may_carry_a_plain_query():
    hostvars = _hostvars()
    hostvars["st-1"]["ansible_facts"]["ansible_local"]["llm_infra_service_openbao"] = {
        "name": "openbao", "metrics": {"scheme": "https", "port": 8200, "path": "/v1/sys/metrics?format=prometheus"}}
    by_job = {t["job"]: t for t in _targets(hostvars)}
    assert by_job["openbao"]["path"] == "/v1/sys/metrics?format=prometheus"


@pytest.mark.parametrize(
    "host, fact, metrics, expected",
    [
        # A serving host asks for MinIO's root credential, the Vault init password, the automation AppRole.
        ("srv-1", "llm_infra_service_llama_cpp_main", {"port": 8080, "auth": "bearer", "credential": "minio/root"},
         "srv-1: llm_infra_service_llama_cpp_main: job 'llama_cpp_main' asks for credential='minio/root', but the controller "
         "gives this job auth='bearer', credential='llama_cpp/backend-api-key', token='credential'"),
        ("srv-1", "llm_infra_service_llama_cpp_main", {"port": 8080, "auth": "bearer", "credential": "vault-init.pass"},
         "asks for credential='vault-init.pass'"),
        # A job the table gives no credential cannot ask for one.
        ("db-1", "llm_infra_service_postgres_exporter", {"port": 9187, "auth": "basic", "credential": "vault/approle-secret-id"},
         "job 'postgres_exporter' asks for auth='basic', credential='vault/approle-secret-id', but prometheus_scrape_auth "
         "gives this job no credential"),
        # A host outside the storage group claims MinIO's job to have its metrics token sent to it.
        ("srv-1", "llm_infra_service_llama_cpp_main", {"job": "minio", "port": 9000, "auth": "bearer"},
         "job 'minio' carries a credential that only hosts of storage may be scraped with; srv-1 is in none of them"),
        ("st-1", "llm_infra_service_minio", {"port": 9000, "auth": "bearer", "token": "minio_jwt", "username": "root",
                                             "credential": "minio/root"},
         "asks for credential='minio/root', username='root'"),
        # Malformed data is refused before it reaches prometheus.yml.
        ("db-1", "llm_infra_service_postgres_exporter", {"port": "9187\n  - job_name: evil", "auth": "none"},
         "port '9187\\n  - job_name: evil' must be an integer 1-65535"),
        ("db-1", "llm_infra_service_postgres_exporter", {"port": 70000}, "port 70000 must be an integer 1-65535"),
        ("db-1", "llm_infra_service_postgres_exporter", {"port": 9187, "job": "../../etc/cron.d/x"},
         "job '../../etc/cron.d/x' must be letters, digits and '_'"),
        ("db-1", "llm_infra_service_postgres_exporter", {"port": 9187, "path": "/metrics\nfoo"}, "must be a plain absolute path"),
        ("db-1", "llm_infra_service_postgres_exporter", {"port": 9187, "path": "/m?x=1\n  - job_name: evil"}, "must be a plain absolute path"),
        ("db-1", "llm_infra_service_postgres_exporter", {"port": 9187, "path": "/m?x=<script>"}, "must be a plain absolute path"),
        ("db-1", "llm_infra_service_postgres_exporter", {"port": 9187, "scheme": "file"}, "scheme 'file' must be http or https"),
        ("db-1", "llm_infra_service_postgres_exporter", {"port": 9187, "auth": "digest"}, "auth 'digest' must be one of none, basic, bearer"),
    ],
)
def test_a_declaration_asking_for_what_it_was_not_given_is_refused(host, fact, metrics, expected):
    hostvars = _hostvars()
    local = hostvars[host].get("ansible_local") or hostvars[host]["ansible_facts"]["ansible_local"]
    local[fact] = {"name": fact[len("llm_infra_service_"):], "metrics": metrics}
    with pytest.raises(AnsibleFilterError) as raised:
        _targets(hostvars)
    message = str(raised.value)
    assert "no configuration was written" in message
    assert expected in message, message


def test_a_malformed_private_address_is_refused():
    hostvars = _hostvars()
    hostvars["db-1"]["llm_infra_private_address"] = "10.0.0.5\n  - targets: [evil]"
    with pytest.raises(AnsibleFilterError, match="db-1: the host's llm_infra_private_address .* is not an IP address or host name"):
        _targets(hostvars)


def test_every_problem_of_every_host_is_reported_at_once():
    hostvars = _hostvars()
    hostvars["db-1"]["ansible_local"]["llm_infra_service_postgres_exporter"]["metrics"]["port"] = 0
    hostvars["srv-1"]["ansible_local"]["llm_infra_service_llama_cpp_main"]["metrics"]["credential"] = "minio/root"
    with pytest.raises(AnsibleFilterError) as raised:
        _targets(hostvars)
    assert "db-1: llm_infra_service_postgres_exporter: port 0" in str(raised.value)
    assert "srv-1: llm_infra_service_llama_cpp_main: job 'llama_cpp_main' asks for credential='minio/root'" in str(raised.value)


@pytest.mark.parametrize(
    "table, expected",
    [
        ("x", "prometheus_scrape_auth must be a list"),
        ([{"jobs": "(", "groups": ["a"], "auth": "basic", "username": "u", "credential": "c"}], "prometheus_scrape_auth[0].jobs is not a regular expression"),
        ([{"jobs": "a", "groups": [], "auth": "basic", "username": "u", "credential": "c"}], "prometheus_scrape_auth[0].groups must list"),
        ([{"jobs": "a", "groups": ["g"], "auth": "none", "credential": "c"}], "prometheus_scrape_auth[0].auth must be basic or bearer"),
        ([{"jobs": "a", "groups": ["g"], "auth": "basic", "credential": "c"}], "prometheus_scrape_auth[0].username is required"),
        ([{"jobs": "a", "groups": ["g"], "auth": "bearer", "token": "minio_jwt", "credential": "c"}], "username (the MinIO user) is required"),
    ],
)
def test_a_bad_controller_table_is_named(table, expected):
    with pytest.raises(AnsibleFilterError, match=re.escape(expected)):
        prometheus_targets_from_facts([], {}, table, {})


def test_a_declaration_may_repeat_what_the_controller_decides():
    declaration = {
        "name": "minio",
        "metrics": {"scheme": "https", "port": 9000, "path": "/minio/v2/metrics/cluster", "auth": "bearer",
                    "token": "minio_jwt", "username": "prometheus", "credential": "minio/prometheus"},
    }
    target, problems = target_from_declaration("st-1", "10.0.0.6", declaration, SCRAPE_AUTH, ["storage"])
    assert problems == []
    assert (target["token"], target["username"], target["credential"]) == ("minio_jwt", "prometheus", "minio/prometheus")
    plain, problems = target_from_declaration("srv-1", "10.0.0.7", {"name": "llama_cpp_x", "metrics": {"port": 1, "auth": "bearer"}},
                                              SCRAPE_AUTH, ["serving"])
    assert problems == [] and plain["token"] == "credential" and "username" not in plain


@pytest.mark.parametrize("shape", ["ansible_local", "ansible_facts.local", "ansible_facts.ansible_local"])
def test_declarations_are_found_wherever_the_local_facts_are(shape):
    local = {"llm_infra_service_node": {"name": "node", "metrics": {"port": 9100}}}
    host_vars = {"llm_infra_private_address": "10.0.0.7"}
    if shape == "ansible_local":
        host_vars["ansible_local"] = local
    else:
        host_vars["ansible_facts"] = {shape.split(".")[1]: local}
    [target] = prometheus_targets_from_facts(["n-1"], {"n-1": host_vars})
    assert (target["job"], target["address"], target["port"]) == ("node", "10.0.0.7", 9100)


def test_role_targets_problems_name_the_entry():
    from ansible_collections.llm_infra.cluster.plugins.filter.prometheus_targets import prometheus_target_problems

    good = {"job": "node_exporter", "host": "h1", "address": "10.0.0.1", "port": 9100, "scheme": "https", "path": "/metrics", "auth": "none"}
    assert prometheus_target_problems([good, dict(good, host="h2", address="h2.cluster.internal")]) == []
    problems = prometheus_target_problems([
        good,
        {"job": "minio", "host": "st-1", "address": "10.0.0.2", "scheme": "https"},
        dict(good, auth="bearer"),
        dict(good, job="x", address="10.0.0.1\nevil", port="80\n"),
        dict(good, job="y", token="minio_jwt", auth="bearer", credential="c"),
    ])
    assert 'prometheus_targets[1].port "" (job minio, host st-1) is missing or not a port 1-65535' in problems
    assert "prometheus_targets[2].credential must name the credential of its bearer auth" in problems
    assert "prometheus_targets[2]: every target of job node_exporter must share scheme, path, auth and credential" in problems
    assert any(p.startswith("prometheus_targets[3].address") for p in problems)
    assert any(p.startswith("prometheus_targets[3].port") for p in problems)
    assert "prometheus_targets[4].username must name the MinIO user whose secret signs the token (token minio_jwt)" in problems

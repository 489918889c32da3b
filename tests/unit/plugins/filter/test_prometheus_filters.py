"""Unit tests of the prometheus_* filters: rule file checks, `for` overrides, targets from service declarations."""

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


def test_targets_from_declarations():
    hostvars = {
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
                        "name": "minio", "metrics": {"scheme": "https", "port": 9000, "path": "/minio/v2/metrics/cluster", "auth": "bearer"},
                    },
                    "llm_infra_service_llama_cpp": {"name": "llama_cpp", "metrics": {"port": 8080, "auth": "bearer", "credential": "llama_cpp/api-key"}},
                    "llm_infra_service_prometheus": {
                        "name": "prometheus",
                        "metrics": {"scheme": "https", "port": 9090, "auth": "basic", "username": "admin", "credential": "prometheus/web-admin"},
                    },
                }
            },
        },
        "bare": {},
    }
    targets = prometheus_targets_from_facts(["db-1", "st-1", "bare"], hostvars)
    by_job = {t["job"]: t for t in targets}
    assert sorted(by_job) == ["llama_cpp", "minio", "postgres_exporter", "prometheus"]
    assert by_job["postgres_exporter"] == {
        "job": "postgres_exporter", "host": "db-1", "address": "10.0.0.5", "port": 9187,
        "scheme": "https", "path": "/metrics", "auth": "none",
    }
    assert by_job["minio"]["credential"] == "minio/metrics-token"
    assert by_job["llama_cpp"]["credential"] == "llama_cpp/api-key"
    assert by_job["llama_cpp"]["scheme"] == "http"
    assert by_job["prometheus"]["username"] == "admin"
    assert by_job["prometheus"]["credential"] == "prometheus/web-admin"


def test_minio_declares_a_jwt_signed_by_its_metrics_user():
    declaration = {
        "name": "minio",
        "metrics": {"scheme": "https", "port": 9000, "path": "/minio/v2/metrics/cluster", "auth": "bearer",
                    "token": "minio_jwt", "username": "prometheus", "credential": "minio/prometheus"},
    }
    target = target_from_declaration("st-1", "10.0.0.6", declaration)
    assert target["token"] == "minio_jwt"
    assert target["username"] == "prometheus"
    assert target["credential"] == "minio/prometheus"
    plain = target_from_declaration("st-1", "10.0.0.6", {"name": "x", "metrics": {"port": 1, "auth": "bearer"}})
    assert plain["token"] == "credential" and "username" not in plain


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

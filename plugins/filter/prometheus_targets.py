"""Build Prometheus scrape targets from the service declarations of base's declare_service (contracts.md §2)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: prometheus_targets_from_facts
short_description: Scrape targets from the llm_infra_service_* local facts of inventory hosts
version_added: 0.1.0
description:
  - Reads C(ansible_local['llm_infra_service_<name>']) of every given host and returns one target per declaration
    that has a C(metrics) entry, in the form the prometheus role takes as C(prometheus_targets).
  - Credentials follow one naming rule, the convention every role declaring metrics follows, bearer token
    C(<service>/metrics-token), basic password C(<service>/metrics-password) (user C(prometheus)), unless the
    declaration names C(credential) (and C(username)).
options:
  _input:
    description: Inventory host names.
    type: list
    elements: str
    required: true
  hostvars:
    description: The play's C(hostvars).
    type: dict
    required: true
"""

FACT_PREFIX = "llm_infra_service_"


def _local_facts(host_vars):
    for key in ("ansible_local",):
        try:
            value = host_vars[key]
        except (KeyError, TypeError):
            value = None
        if value:
            return value
    try:
        facts = host_vars["ansible_facts"]
    except (KeyError, TypeError):
        return {}
    return (facts or {}).get("local") or (facts or {}).get("ansible_local") or {}


def target_from_declaration(host, address, declaration):
    """One target dict from one declaration; None when it declares no metrics."""
    metrics = declaration.get("metrics") or {}
    if not metrics:
        return None
    service = declaration.get("name") or ""
    auth = str(metrics.get("auth", "none"))
    target = {
        "job": str(metrics.get("job", service)),
        "host": host,
        "address": address,
        "port": metrics.get("port"),
        "scheme": str(metrics.get("scheme", "http")),
        "path": str(metrics.get("path", "/metrics")),
        "auth": auth,
    }
    if auth == "bearer":
        target["credential"] = str(metrics.get("credential", "%s/metrics-token" % service))
        # `token: minio_jwt`: the bearer token is MinIO's JWT signed with the credential of user `username`.
        target["token"] = str(metrics.get("token", "credential"))
        if "username" in metrics:
            target["username"] = str(metrics["username"])
    elif auth == "basic":
        target["credential"] = str(metrics.get("credential", "%s/metrics-password" % service))
        target["username"] = str(metrics.get("username", "prometheus"))
    return target


def prometheus_targets_from_facts(hosts, hostvars):
    targets = []
    for host in hosts:
        host_vars = hostvars[host]
        try:
            address = host_vars["llm_infra_private_address"]
        except (KeyError, TypeError):
            address = None
        local = _local_facts(host_vars)
        for key in sorted(local):
            if not key.startswith(FACT_PREFIX):
                continue
            declaration = dict(local[key])
            declaration.setdefault("name", key[len(FACT_PREFIX):])
            target = target_from_declaration(host, address, declaration)
            if target is not None:
                targets.append(target)
    return targets


class FilterModule:
    def filters(self):
        return {"prometheus_targets_from_facts": prometheus_targets_from_facts}

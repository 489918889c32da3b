# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Build Prometheus scrape targets from the service declarations of base's declare_service (contracts.md §2)."""

from __future__ import annotations

# Documented next to this file in one file per filter, so that each gets its own ansible-doc page:
# prometheus_targets_from_facts.yml.

FACT_PREFIX = "llm_infra_service_"


def _local_facts(host_vars):
    """The host's local facts: `ansible_local`, else the same facts inside `ansible_facts`."""
    try:
        value = host_vars["ansible_local"]
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

# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filter: the connection probes of verify.yml, one per declared TCP listener of a host (contracts.md §2)."""

from __future__ import annotations

# Documented in service_listener_probes.yml next to this file.

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.plugin_utils._jinja import to_int, unique

FACT_PREFIX = "llm_infra_service_"


def _allowed_hosts(listener, groups, host):
    members = []
    for group in listener.get("allow_groups") or []:
        if group in groups:
            members += list(groups[group] or [])
    return [member for member in unique(members) if member != host]


def service_listener_probes(local_facts, groups, host):
    """One probe per TCP listener the host declared: {service, port, allowed: [a host that may connect] or [],
    refused: [a host that may not] or []}. A listener open to networks (allow_cidrs) has no host to refuse."""
    groups = groups or {}
    probes = []
    for key, service in (local_facts or {}).items():
        if not str(key).startswith(FACT_PREFIX):
            continue
        if not isinstance(service, Mapping):
            raise AnsibleFilterError("service_listener_probes: %s of %s must be a dict" % (key, host))
        for listener in service.get("listeners") or []:
            if not isinstance(listener, Mapping):
                raise AnsibleFilterError("service_listener_probes: the listeners of %s of %s must be dicts" % (key, host))
            if listener.get("proto", "tcp") != "tcp":
                continue
            allowed = _allowed_hosts(listener, groups, host)
            if listener.get("allow_cidrs"):
                refused = []
            else:
                outside = [member for member in groups.get("all") or [] if member not in ("localhost", host) and member not in allowed]
                refused = outside[:1]
            probes.append({"service": service.get("name", str(key)[len(FACT_PREFIX):]), "port": to_int(listener.get("port")),
                           "allowed": allowed[:1], "refused": refused})
    return probes


class FilterModule:
    def filters(self):
        return {"service_listener_probes": service_listener_probes}

# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters on the service declarations of the managed hosts (contracts.md §2): verify.yml's connection probes, and
the endpoints playbooks wire one layer to another with instead of repeating the roles' default ports."""

from __future__ import annotations

# Documented next to this file in one file per filter: service_listener_probes.yml, service_endpoints.yml,
# object_store_endpoint.yml.

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.plugin_utils._facts import FACT_PREFIX, local_facts as host_local_facts
from ansible_collections.llm_infra.cluster.plugins.plugin_utils._jinja import to_int, unique
from ansible_collections.llm_infra.cluster.plugins.plugin_utils._validate import valid_address, valid_hostname, valid_ip, valid_port


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


def _declared_port(declaration):
    """The port a client uses: the health check's, else the first TCP listener's."""
    health = declaration.get("health") if isinstance(declaration.get("health"), Mapping) else {}
    if health.get("port") not in (None, ""):
        return health.get("port")
    for listener in declaration.get("listeners") or []:
        if isinstance(listener, Mapping) and listener.get("proto", "tcp") == "tcp":
            return listener.get("port")
    return None


def service_endpoints(hosts, hostvars, service, path=""):
    """Where `service` listens on each of `hosts`, from the host's declaration and its llm_infra_private_address.

    Returns [{host, address, port, scheme, hostport, url}] in the order of `hosts`; `url` ends with `path`. Raises,
    naming host and fact, when a host has no declaration of the service or its address or port is malformed.
    """
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("service_endpoints: expected a list of inventory hosts, got %r" % (hosts,))
    key = FACT_PREFIX + str(service)
    endpoints, problems = [], []
    for host in hosts:
        try:
            host_vars = hostvars[host]
        except (KeyError, TypeError):
            problems.append("%s is not in the inventory" % host)
            continue
        declaration = host_local_facts(host_vars).get(key)
        if not isinstance(declaration, Mapping):
            problems.append("%s has no declaration %s (its role has not run there yet, or its local facts were not "
                            "read: setup with gather_subset local)" % (host, key))
            continue
        try:
            address = host_vars["llm_infra_private_address"]
        except (KeyError, TypeError):
            address = None
        port = _declared_port(declaration)
        if not valid_address(address):
            problems.append("%s: llm_infra_private_address %r is not an IP address or host name" % (host, address))
            continue
        if not valid_port(port):
            problems.append("%s: %s declares no port 1-65535 (got %r)" % (host, key, port))
            continue
        health = declaration.get("health") if isinstance(declaration.get("health"), Mapping) else {}
        scheme = str(health.get("scheme") or "https")
        if scheme not in ("http", "https"):
            scheme = "https"
        wrapped = "[%s]" % address if valid_ip(address) and ":" in str(address) else str(address)
        hostport = "%s:%d" % (wrapped, int(str(port)))
        endpoints.append({"host": str(host), "address": str(address), "port": int(str(port)), "scheme": scheme,
                          "hostport": hostport, "url": "%s://%s%s" % (scheme, hostport, path)})
    if problems:
        raise AnsibleFilterError("service_endpoints(%s): %s" % (service, "; ".join(problems)))
    return endpoints


def object_store_endpoint(storage_hosts, hostvars, required=True):
    """The cluster's S3 endpoint as its clients reach it: the first storage host's MinIO declaration.

    Returns {} without storage hosts; else {host, address, port, hostport, url, name_url}: `url` by the private
    address (the controller's bucket and presign calls), `name_url` by the inventory name that MinIO's certificate
    carries (the hosts' backup agents verify it). Raises, naming host and fact, where service_endpoints does, and for
    an inventory name that is no DNS name; with required=False a host without the declaration gives {} (role
    defaults, which Ansible templates while validating arguments the run may not use).
    """
    if storage_hosts in (None, ""):
        return {}
    if not isinstance(storage_hosts, (list, tuple)):
        raise AnsibleFilterError("object_store_endpoint: expected the storage group's hosts as a list, got %r" % (storage_hosts,))
    if not storage_hosts:
        return {}
    host = storage_hosts[0]
    if not valid_hostname(host):
        raise AnsibleFilterError("object_store_endpoint: the storage host %r is no DNS name; MinIO's certificate is "
                                 "issued for the inventory name, so clients cannot verify it" % (host,))
    if not required:
        try:
            declared = isinstance(host_local_facts(hostvars[host]).get(FACT_PREFIX + "minio"), Mapping)
        except (KeyError, TypeError):
            declared = False
        if not declared:
            return {}
    [endpoint] = service_endpoints([host], hostvars, "minio")
    if endpoint["scheme"] != "https":
        raise AnsibleFilterError("object_store_endpoint: %s declares MinIO over %s; its clients send credentials and "
                                 "need https" % (host, endpoint["scheme"]))
    return dict(endpoint, name_url="https://%s:%d" % (host, endpoint["port"]))


class FilterModule:
    def filters(self):
        return {"service_listener_probes": service_listener_probes, "service_endpoints": service_endpoints,
                "object_store_endpoint": object_store_endpoint}

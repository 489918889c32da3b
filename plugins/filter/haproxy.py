# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of the haproxy role: serving instances from host facts, backends per model, input problems."""

from __future__ import annotations

# Documented next to this file in one file per filter, so that each gets its own ansible-doc page:
# haproxy_backends.yml, haproxy_gateway_problems.yml, haproxy_serving_instances.yml.

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.plugin_utils._validate import (
    valid_address,
    valid_hostname,
    valid_ip,
    valid_model_id,
    valid_port,
)

# Names end up inside single-quoted HAProxy words, JSON strings and map files: no quotes, spaces or '%'.
KEY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
HEALTH_PATH_RE = re.compile(r"^/[A-Za-z0-9._/~-]*$")
KEY_RE = re.compile(r"^\S+$")
REQUIRED_INSTANCE_FIELDS = ("model", "address", "port")


def _slug(value):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(value))


def _positive_int(value):
    if isinstance(value, bool):
        return False
    try:
        return int(str(value)) > 0 and str(int(str(value))) == str(value)
    except (TypeError, ValueError):
        return False


def _published_instance(host, host_vars, index, instance, api_key_credential):
    """The instance a serving host publishes, checked field by field; (instance, problems)."""
    where = "%s: instances[%d]" % (host, index)
    if not isinstance(instance, dict):
        return None, ["%s must be a dict" % where]
    problems = []
    name = str(instance.get("instance", ""))
    if not KEY_NAME_RE.fullmatch(name):
        problems.append("%s.instance %r may only hold letters, digits, '.', '_' and '-'" % (where, instance.get("instance")))
    if not valid_model_id(instance.get("model", "")):
        problems.append("%s.model %r may only hold letters, digits and . _ : / @ + -" % (where, instance.get("model")))
    address = str(instance.get("address", ""))
    private = host_vars.get("llm_infra_private_address") if hasattr(host_vars, "get") else None
    if not valid_ip(address):
        problems.append("%s.address %r must be an IP address" % (where, instance.get("address")))
    elif private is not None and address != str(private):
        problems.append(
            "%s.address %r is not the host's llm_infra_private_address %r: the gateway reaches a serving host only at "
            "the address the inventory gives it" % (where, address, private)
        )
    if not valid_port(instance.get("port")):
        problems.append("%s.port %r must be 1-65535" % (where, instance.get("port")))
    if instance.get("scheme", "https") != "https":
        problems.append("%s.scheme %r: only https backends are accepted" % (where, instance.get("scheme")))
    health_path = str(instance.get("health_path", "/health"))
    if not HEALTH_PATH_RE.fullmatch(health_path):
        problems.append("%s.health_path %r must be a plain absolute path" % (where, instance.get("health_path")))
    if "host" in instance and str(instance["host"]) != host:
        problems.append("%s.host %r is not the inventory name %r: a serving host cannot speak for another" % (where, instance["host"], host))
    asked = instance.get("api_key_credential")
    if asked is not None and str(asked) != api_key_credential:
        problems.append(
            "%s asks for api_key_credential %r, but the controller gives this engine's backends %r; a host's facts never "
            "choose the key the gateway sends" % (where, asked, api_key_credential)
        )
    if problems:
        return None, problems
    return {
        "instance": name,
        "model": str(instance["model"]),
        "address": address,
        "port": int(str(instance["port"])),
        "scheme": "https",
        "health_path": health_path,
        "api_key_credential": api_key_credential,
        "host": host,
    }, []


def haproxy_serving_instances(hostvars, hosts, fact="llm_infra_serving_llama_cpp", api_key_credential=None):
    """Instances of local fact `fact` on `hosts`, validated, with the controller's backend credential and the
    inventory name as `host`. Raises with every problem found, so nothing is rendered from a bad fact."""
    if not api_key_credential or not isinstance(api_key_credential, str):
        raise AnsibleFilterError(
            "haproxy_serving_instances: api_key_credential must name the credential of the engine's backend key "
            "(decided by the playbook from the inventory, never by the serving hosts)"
        )
    instances = []
    problems = []
    for host in hosts or []:
        host_vars = hostvars[host] if host in hostvars else {}
        local = host_vars.get("ansible_local") or {}
        published = local.get(fact) or {}
        if not isinstance(published, dict) or not isinstance(published.get("instances", []), list):
            problems.append("%s: local fact %s must be {instances: [...]}" % (host, fact))
            continue
        for index, instance in enumerate(published.get("instances") or []):
            item, found = _published_instance(host, host_vars, index, instance, api_key_credential)
            problems += found
            if item is not None:
                instances.append(item)
    if problems:
        raise AnsibleFilterError(
            "haproxy_serving_instances refused the instances the serving hosts publish (local fact %s; nothing was "
            "rendered): %s" % (fact, "; ".join(problems))
        )
    return instances


def haproxy_backends(instances, aliases=None):
    aliases = aliases or {}
    backends = {}
    for instance in instances or []:
        if not isinstance(instance, dict) or "model" not in instance:
            raise AnsibleFilterError("haproxy_backends: every instance needs a model: %r" % (instance,))
        model = str(instance["model"])
        backend = backends.setdefault(
            model,
            {
                "name": "model_" + _slug(model),
                "model": model,
                "aliases": sorted(alias for alias, target in aliases.items() if target == model),
                "health_path": instance.get("health_path", "/health"),
                "api_key_credential": instance.get("api_key_credential", ""),
                "servers": [],
            },
        )
        credential = instance.get("api_key_credential", "")
        if credential != backend["api_key_credential"]:
            raise AnsibleFilterError(
                "haproxy_backends: model %r is served with two backend keys (%r and %r): the gateway sends one key per "
                "model, so the engines that serve one model id must share their api_key_credential"
                % (model, backend["api_key_credential"], credential)
            )
        host = instance.get("host", "")
        name = _slug("%s_%s" % (host or instance["address"], instance.get("instance", instance["port"])))
        if name in [server["name"] for server in backend["servers"]]:
            raise AnsibleFilterError(
                "haproxy_backends: model %r has two instances named %r on %s: give them distinct instance names"
                % (model, instance.get("instance"), host or instance["address"])
            )
        backend["servers"].append(
            {
                "name": name,
                "host": host,
                "address": str(instance["address"]),
                "port": int(instance["port"]),
                "scheme": instance.get("scheme", "https"),
            }
        )
    names = [b["name"] for b in backends.values()]
    if len(set(names)) != len(names):
        raise AnsibleFilterError("haproxy_backends: two model ids map to one backend name: %s" % ", ".join(sorted(names)))
    return [backends[model] for model in sorted(backends)]


def _key_problems(api_keys):
    problems = []
    if not isinstance(api_keys, list):
        return ["haproxy_api_keys must be a list of {name, key (optional), requests_per_minute, max_concurrent}"]
    seen = {}
    for index, entry in enumerate(api_keys):
        where = "haproxy_api_keys[%d]" % index
        if not isinstance(entry, dict):
            problems.append("%s must be a dict with a name" % where)
            continue
        name = entry.get("name")
        if name is None or str(name).strip() == "":
            problems.append("%s has no name (every API key needs a name)" % where)
        elif not KEY_NAME_RE.fullmatch(str(name)):
            problems.append("%s.name %r may only hold letters, digits, '.', '_' and '-'" % (where, name))
        elif str(name) in seen:
            problems.append(
                "haproxy_api_keys: the name %r is used twice (entries %d and %d); names must be unique" % (name, seen[str(name)], index)
            )
        else:
            seen[str(name)] = index
        if "key" in entry and not (isinstance(entry["key"], str) and KEY_RE.fullmatch(entry["key"]) and len(entry["key"]) >= 16):
            problems.append("%s.key must be a string of at least 16 characters without spaces (or be left out to generate one)" % where)
        for field in ("requests_per_minute", "max_concurrent"):
            if field in entry and not _positive_int(entry[field]):
                problems.append("%s.%s must be a positive integer, got %r" % (where, field, entry[field]))
    return problems


def _instance_problems(instances):
    if not isinstance(instances, list):
        return ["haproxy_llm_backends must be a list of serving instances"]
    if not instances:
        return ["haproxy_llm_backends is empty: the gateway needs at least one serving instance (run the serving layer first)"]
    problems = []
    credentials = {}
    for index, instance in enumerate(instances):
        where = "haproxy_llm_backends[%d]" % index
        if not isinstance(instance, dict):
            problems.append("%s must be a dict" % where)
            continue
        missing = [field for field in REQUIRED_INSTANCE_FIELDS if instance.get(field) in (None, "")]
        if missing:
            problems.append("%s lacks %s" % (where, ", ".join(missing)))
            continue
        if not valid_model_id(instance["model"]):
            problems.append("%s.model %r may only hold letters, digits and . _ : / @ + -" % (where, instance["model"]))
        if not valid_port(instance["port"]):
            problems.append("%s.port %r must be 1-65535" % (where, instance["port"]))
        if instance.get("scheme", "https") != "https":
            problems.append("%s.scheme %r: only https backends are accepted" % (where, instance.get("scheme")))
        if not valid_address(instance["address"]):
            problems.append("%s.address %r must be an IP address or host name" % (where, instance["address"]))
        if "host" in instance and not valid_hostname(instance["host"]):
            problems.append(
                "%s.host %r must be the server's host name (its TLS name, checked against its certificate); "
                "leave it out to verify the address instead" % (where, instance["host"])
            )
        if not HEALTH_PATH_RE.fullmatch(str(instance.get("health_path", "/health"))):
            problems.append("%s.health_path %r must be a plain absolute path" % (where, instance.get("health_path")))
        credentials.setdefault(str(instance["model"]), set()).add(str(instance.get("api_key_credential", "")))
    for model, names in sorted(credentials.items()):
        if len(names) > 1:
            problems.append(
                "haproxy_llm_backends: the instances of model %r use different api_key_credential values (%s); "
                "one backend sends one key" % (model, ", ".join(sorted(names)))
            )
    return problems


def haproxy_gateway_problems(api_keys, instances, aliases=None, requests_per_minute=1, max_concurrent=1):
    """Every problem of the gateway's input, each message naming the variable; empty when all is well.

    `instances` None means the serving layer's results are not known yet (a run of the checks alone): the keys,
    the limits and the aliases' names are checked, not the instances nor what the aliases route to.
    """
    problems = []
    for name, value in (("haproxy_api_key_requests_per_minute", requests_per_minute), ("haproxy_api_key_max_concurrent", max_concurrent)):
        if not _positive_int(value):
            problems.append("%s must be a positive integer, got %r" % (name, value))
    problems += _key_problems(api_keys)
    known = instances is not None
    if known:
        problems += _instance_problems(instances)
    served = {str(i.get("model")) for i in instances if isinstance(i, dict)} if isinstance(instances, list) else set()
    if not isinstance(aliases, dict):
        problems.append("haproxy_model_aliases must be a dict {alias: served model}")
    else:
        for alias, target in sorted(aliases.items()):
            if not valid_model_id(alias):
                problems.append("haproxy_model_aliases: alias %r may only hold letters, digits and . _ : / @ + -" % alias)
            elif str(alias) in served:
                problems.append("haproxy_model_aliases: alias %r is already a served model" % alias)
            if known and str(target) not in served:
                problems.append(
                    "haproxy_model_aliases: %r is routed to model %r, which no backend serves (served: %s)"
                    % (alias, target, ", ".join(sorted(served)) or "none")
                )
    return problems


class FilterModule:
    def filters(self):
        return {
            "haproxy_backends": haproxy_backends,
            "haproxy_gateway_problems": haproxy_gateway_problems,
            "haproxy_serving_instances": haproxy_serving_instances,
        }

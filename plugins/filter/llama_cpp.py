# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of the llama_cpp role: the check of its instance list and the --flash-attn value of one instance."""

from __future__ import annotations

# Documented next to this file in one file per filter, so that each gets its own ansible-doc page:
# llama_cpp_instance_problems.yml, llama_cpp_flash_attn.yml.

import json
import re
from collections.abc import Mapping

from ansible_collections.llm_infra.cluster.plugins.plugin_utils._jinja import to_int, unique
from ansible_collections.llm_infra.cluster.plugins.plugin_utils._validate import valid_ip

# Instance names become systemd instance names (llama-server@<name>) and folder names.
NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]*")


def _strings(values):
    return ", ".join(str(value) for value in values)


def _json(value):
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return json.dumps(str(value))


def llama_cpp_instance_problems(instances, defaults=None, listen_address=None):
    """Every problem of `llama_cpp_instances` (each entry filled in from `defaults`); empty when all is well."""
    given = [entry if isinstance(entry, Mapping) else {} for entry in instances or []]
    filled = [dict(defaults or {}, **entry) for entry in given]
    names = [entry.get("name", "") for entry in given]
    aliases = [entry.get("alias", "") for entry in filled]
    ports = [to_int(entry.get("port", 0)) for entry in filled]
    problems = []
    if not all(names) or not all(aliases) or any("model" not in entry for entry in filled):
        problems.append("llama_cpp_instances: every entry needs name, alias, port and model")
    if len(unique(names)) != len(names) or not all(NAME_RE.fullmatch(str(name)) for name in names):
        problems.append("llama_cpp_instances: names must be unique, lower case letters, digits and - (got %s)" % _strings(names))
    if len(unique(aliases)) != len(aliases):
        problems.append("llama_cpp_instances: aliases must be unique (got %s)" % _strings(aliases))
    shared = unique(port for port in ports if ports.count(port) > 1)
    if shared:
        # The instances are named by the port they were given, before it was read as a number.
        holders = [entry.get("name", "") for entry in filled if entry.get("port") in shared]
        problems.append("llama_cpp_instances: port %s is used by more than one instance (%s)" % (_strings(shared), _strings(holders)))
    if any(port < 1 or port > 65535 for port in ports):
        problems.append("llama_cpp_instances: ports must be 1-65535 (got %s)" % _strings(ports))
    if not valid_ip(listen_address):
        problems.append("llama_cpp_listen_address %s must be an IP address (llm_infra_private_address by default)"
                        % _json(listen_address))
    return problems


def llama_cpp_flash_attn(value, on_gpu=False):
    """llama-server's --flash-attn value of an instance: on, off or auto (auto means on where a GPU serves)."""
    if on_gpu and value == "auto":
        return "on"
    if isinstance(value, bool) or str(value) in ("True", "False"):
        return "on" if str(value) == "True" else "off"
    return value


class FilterModule:
    def filters(self):
        return {
            "llama_cpp_flash_attn": llama_cpp_flash_attn,
            "llama_cpp_instance_problems": llama_cpp_instance_problems,
        }

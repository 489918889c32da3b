# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of the vault role."""

from __future__ import annotations

# Documented next to this file in one file per filter, so that each gets its own ansible-doc page:
# vault_restart_order.yml.

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

STATE_FACT = "__vault_before_restart"


def _state(host, hostvars):
    """The member's sys/health answer read before the restarts, or None when it gave none."""
    try:
        result = hostvars[host][STATE_FACT]
    except (KeyError, TypeError):
        return None
    if not isinstance(result, Mapping) or result.get("status") != 200:
        return None
    answer = result.get("json")
    return answer if isinstance(answer, Mapping) else None


def vault_restart_order(hosts, hostvars):
    """The members to restart, in order: [{host, serving, active}], standbys first and the active member last.

    A member serves when it answered initialised and unsealed before the restarts; only then is it unsealed and
    waited for after its own. The active member goes last so that the cluster elects a new leader once at most.
    """
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("vault_restart_order: expected a list of member names, got %r" % (hosts,))
    plan = []
    for host in hosts:
        state = _state(host, hostvars)
        serving = bool(state) and bool(state.get("initialized")) and not state.get("sealed", True)
        plan.append({"host": str(host), "serving": serving, "active": serving and not state.get("standby", True)})
    # sorted() is stable: the inventory's order holds among the standbys.
    return sorted(plan, key=lambda member: member["active"])


class FilterModule:
    def filters(self):
        return {"vault_restart_order": vault_restart_order}

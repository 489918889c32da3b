# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Reading a managed host's local facts (the service declarations of contracts.md §2) out of hostvars."""

from __future__ import annotations

FACT_PREFIX = "llm_infra_service_"


def local_facts(host_vars):
    """The host's local facts: `ansible_local`, else the same facts inside `ansible_facts`; {} when none."""
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

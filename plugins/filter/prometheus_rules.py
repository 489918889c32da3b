# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters for Prometheus alert rule files and scrape targets (llm_infra.cluster.prometheus role, monitoring playbook)."""

from __future__ import annotations

# Documented next to this file in one file per filter, so that each gets its own ansible-doc page:
# prometheus_rule_problems.yml, prometheus_rules_for.yml.

import re

import yaml
from ansible.errors import AnsibleFilterError

_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def prometheus_rule_problems(text):
    """Problems of a rule file's text, as readable sentences; empty when it looks valid."""
    try:
        data = yaml.safe_load(str(text))
    except yaml.YAMLError as exc:
        return ["does not parse as YAML: %s" % str(exc).replace("\n", " ")]
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        return ["has no 'groups' list at the top"]
    problems = []
    for gi, group in enumerate(data["groups"]):
        if not isinstance(group, dict) or not group.get("name"):
            problems.append("groups[%d] has no name" % gi)
            continue
        rules = group.get("rules")
        if not isinstance(rules, list):
            problems.append("group '%s' has no 'rules' list" % group["name"])
            continue
        for ri, rule in enumerate(rules):
            where = "group '%s' rules[%d]" % (group["name"], ri)
            if not isinstance(rule, dict):
                problems.append("%s is not a mapping" % where)
                continue
            if ("alert" in rule) == ("record" in rule):
                problems.append("%s needs exactly one of 'alert' or 'record'" % where)
            if not str(rule.get("expr", "")).strip():
                problems.append("%s has no expr" % where)
            if "for" in rule and not _DURATION.match(str(rule["for"])):
                problems.append("%s has an invalid 'for' duration %r" % (where, rule["for"]))
    return problems


def prometheus_rules_for(text, overrides):
    """Return the rule file's text with the `for` of the alerts named in `overrides` replaced.

    Without a matching alert the text is returned unchanged, byte for byte.
    """
    if not overrides:
        return text
    for name, duration in overrides.items():
        if not _DURATION.match(str(duration)) and str(duration) != "0s":
            raise AnsibleFilterError("prometheus_alert_for_overrides[%s]: %r is not a duration like 30s or 5m" % (name, duration))
    data = yaml.safe_load(text)
    touched = False
    for group in data.get("groups", []):
        for rule in group.get("rules", []):
            if rule.get("alert") in overrides:
                rule["for"] = str(overrides[rule["alert"]])
                touched = True
    if not touched:
        return text
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)


class FilterModule:
    def filters(self):
        return {
            "prometheus_rule_problems": prometheus_rule_problems,
            "prometheus_rules_for": prometheus_rules_for,
        }

# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filter: the SANs of a certificate request that a Vault/OpenBao PKI role would refuse."""

from __future__ import annotations

# Documented in pki_sans_denied.yml next to this file: one file per filter, so that each gets its own ansible-doc page.

import ipaddress

from ansible.errors import AnsibleFilterError


def _is_ip(value):
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _as_list(value):
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return list(value or [])


def _bool(value, default):
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def dns_allowed(name, role):
    name = name.lower().rstrip(".")
    if _bool(role.get("allow_any_name"), False):
        return True
    if name == "localhost" and _bool(role.get("allow_localhost"), True):
        return True
    bare = _bool(role.get("allow_bare_domains"), False)
    subdomains = _bool(role.get("allow_subdomains"), False)
    for domain in _as_list(role.get("allowed_domains")):
        domain = str(domain).lower().rstrip(".")
        if bare and name == domain:
            return True
        if subdomains and name.endswith("." + domain):
            return True
    return False


def pki_sans_denied(sans, role):
    if not isinstance(role, dict):
        raise AnsibleFilterError("pki_sans_denied: the role must be a dict, got %r" % (role,))
    denied = []
    for san in sans or []:
        san = str(san)
        if _is_ip(san):
            if not _bool(role.get("allow_ip_sans"), True):
                denied.append(san)
        elif not dns_allowed(san, role):
            denied.append(san)
    return denied


class FilterModule:
    def filters(self):
        return {"pki_sans_denied": pki_sans_denied}

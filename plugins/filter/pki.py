# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filter: the SANs of a certificate request that a Vault/OpenBao PKI role would refuse."""

from __future__ import annotations

DOCUMENTATION = r"""
name: pki_sans_denied
author: llm-infra maintainers
version_added: 0.2.0
short_description: SANs a Vault or OpenBao PKI role would refuse to sign
description:
  - Applies the name policy of a PKI role (C(allowed_domains), C(allow_bare_domains), C(allow_subdomains),
    C(allow_localhost), C(allow_ip_sans), C(allow_any_name)) to requested SANs, with Vault's defaults for unset keys,
    and returns the refused ones in request order. Glob domains are not supported and never match.
  - Lets a play fail before it generates a key or a request, with a message that names the variable.
options:
  _input:
    description: Requested SANs, host names or IP addresses.
    type: list
    elements: str
    required: true
  role:
    description: The PKI role, as in the vault role's C(vault_pki_roles).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse names the server role does not allow
  ansible.builtin.assert:
    that: pki_certificate_sans | llm_infra.cluster.pki_sans_denied(vault_pki_roles[0]) | length == 0
"""

RETURN = r"""
_value:
  description: The refused SANs.
  type: list
  elements: str
"""

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

# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of the cluster PKI: the default server role of Vault's intermediate (one definition for the vault role,
which creates it, and the pki role, which checks requests against it), and the SANs such a role would refuse."""

from __future__ import annotations

# Documented next to this file in one file per filter, so that each gets its own ansible-doc page:
# pki_sans_denied.yml, pki_server_role.yml.

import ipaddress

from jinja2 import Undefined

from ansible.errors import AnsibleError, AnsibleFilterError


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


def ip_allowed(address, role):
    """Whether the role certifies an IP SAN: allow_ip_sans, and within allowed_ip_sans_cidr when the role has it."""
    if not _bool(role.get("allow_ip_sans"), True):
        return False
    networks = _as_list(role.get("allowed_ip_sans_cidr"))
    if not networks:
        return True
    ip = ipaddress.ip_address(address)
    for network in networks:
        try:
            if ip in ipaddress.ip_network(str(network), strict=False):
                return True
        except ValueError:
            continue
    return False


def pki_sans_denied(sans, role):
    if not isinstance(role, dict):
        raise AnsibleFilterError("pki_sans_denied: the role must be a dict, got %r" % (role,))
    denied = []
    for san in sans or []:
        san = str(san)
        if _is_ip(san):
            if not ip_allowed(san, role):
                denied.append(san)
        elif not dns_allowed(san, role):
            denied.append(san)
    return denied


def _host_var(hostvars, host, name):
    """A host's variable, or None when it is unset or cannot be resolved here (say, from facts not gathered)."""
    try:
        host_vars = hostvars[host]
        value = host_vars[name] if name in host_vars else None
    except (KeyError, TypeError, AnsibleError):
        return None
    # An unresolvable value comes back as an undefined marker that would fail the task later.
    return None if isinstance(value, Undefined) else value


def _as_network(address):
    """A single address as its /32 or /128; a network as it is."""
    address = str(address)
    if "/" in address:
        return address
    return address + ("/128" if ":" in address else "/32")


def pki_server_role(groups, hostvars, extra_names=None, extra_addresses=None):
    """The default `server` role of Vault's intermediate: exactly the inventory's host names (no subdomains, no
    globs) plus extra_names, and IP SANs only for the hosts' private and Vault listen addresses, loopback and
    extra_addresses."""
    if not isinstance(groups, dict) or not isinstance(groups.get("all", []), list):
        raise AnsibleFilterError("pki_server_role: expected the inventory's groups, got %r" % (groups,))
    hosts = [host for host in groups.get("all", []) if host != "localhost"]
    names = []
    for name in ["localhost"] + hosts + list(extra_names or []):
        if name not in names:
            names.append(name)
    addresses = [_host_var(hostvars, host, "llm_infra_private_address") for host in hosts]
    addresses += [_host_var(hostvars, host, "vault_listen_address") for host in hosts]
    networks = sorted({_as_network(address) for address in addresses + ["127.0.0.1", "::1"] + list(extra_addresses or [])
                       if address not in (None, "")}, key=str.lower)
    return {"name": "server", "allowed_domains": names, "allow_subdomains": False, "allow_bare_domains": True,
            "allow_glob_domains": False, "allow_ip_sans": True, "allowed_ip_sans_cidr": networks,
            "allow_localhost": True, "key_type": "ec", "key_bits": 256, "max_ttl": "8760h"}


class FilterModule:
    def filters(self):
        return {"pki_sans_denied": pki_sans_denied, "pki_server_role": pki_server_role}

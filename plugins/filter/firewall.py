# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filter: the source networks of a firewall rule, by address family, merged, with the invalid entries apart."""

from __future__ import annotations

# Documented in firewall_sources.yml next to this file: one file per filter, so that each gets its own ansible-doc page.
# The standard library's ipaddress does the work: declare_service renders one rule set per service and listener on
# every run, and this keeps it to one cheap call per listener.

import ipaddress

from ansible.errors import AnsibleFilterError


def firewall_sources(sources):
    if sources is None:
        sources = []
    if isinstance(sources, str) or not hasattr(sources, "__iter__"):
        raise AnsibleFilterError("firewall_sources: expected a list of addresses or networks, got %r" % (sources,))
    families = {4: [], 6: []}
    invalid = []
    for source in sources:
        text = str(source).strip()
        if not text:
            # An empty entry is a host without a private address: it adds nothing.
            continue
        try:
            network = ipaddress.ip_network(text)
        except ValueError:
            if text not in invalid:
                invalid.append(text)
            continue
        families[network.version].append(network)
    return {
        "ipv4": [str(network) for network in ipaddress.collapse_addresses(families[4])],
        "ipv6": [str(network) for network in ipaddress.collapse_addresses(families[6])],
        "invalid": invalid,
    }


class FilterModule:
    def filters(self):
        return {"firewall_sources": firewall_sources}

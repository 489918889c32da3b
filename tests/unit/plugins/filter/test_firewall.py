import random

import netaddr
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.filter.firewall import firewall_sources


def test_hosts_and_networks_merge_by_family():
    result = firewall_sources(["10.0.0.5", "10.0.0.4", "10.0.0.0/30", "fd00::7", "10.0.0.5", "fd00::/64"])
    assert result == {"ipv4": ["10.0.0.0/30", "10.0.0.4/31"], "ipv6": ["fd00::/64"], "invalid": []}


def test_single_addresses_become_host_networks():
    assert firewall_sources(["192.0.2.9", "2001:db8::1"]) == {"ipv4": ["192.0.2.9/32"], "ipv6": ["2001:db8::1/128"], "invalid": []}


def test_invalid_entries_are_reported_once_in_order_and_empty_ones_skipped():
    result = firewall_sources(["10.0.0.0/33", "", "gw-1", "10.0.0.1/24", "gw-1", "10.0.0.1", None])
    assert result["invalid"] == ["10.0.0.0/33", "gw-1", "10.0.0.1/24", "None"]
    assert result["ipv4"] == ["10.0.0.1/32"]


def test_no_sources():
    assert firewall_sources([]) == {"ipv4": [], "ipv6": [], "invalid": []}
    assert firewall_sources(None) == {"ipv4": [], "ipv6": [], "invalid": []}


def test_a_string_is_refused():
    with pytest.raises(AnsibleFilterError, match="expected a list"):
        firewall_sources("10.0.0.1")


@pytest.mark.parametrize("seed", range(20))
def test_same_networks_as_netaddr_cidr_merge(seed):
    # What the nftables drop-ins used before (ansible.utils.cidr_merge is netaddr's): the rendered rules must not change.
    rng = random.Random(seed)
    sources = []
    for _source in range(rng.randint(1, 12)):
        prefix = rng.choice([32, 32, 31, 30, 29, 24])
        address = netaddr.IPAddress("10.0.0.0") + rng.randint(0, 64)
        sources.append(str(netaddr.IPNetwork("%s/%d" % (address, prefix)).cidr) if prefix < 32 else str(address))
        if rng.random() < 0.3:
            sources.append("fd00::%x" % rng.randint(0, 8))
    expected_v4 = [str(n) for n in netaddr.cidr_merge([s for s in sources if ":" not in s])]
    expected_v6 = [str(n) for n in netaddr.cidr_merge([s for s in sources if ":" in s])]
    result = firewall_sources(sources)
    assert result["ipv4"] == expected_v4
    assert result["ipv6"] == expected_v6

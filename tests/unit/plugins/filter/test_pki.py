import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.filter.pki import pki_sans_denied

SERVER = {
    "name": "server",
    "allowed_domains": ["localhost", "internal", "db-1"],
    "allow_subdomains": True,
    "allow_bare_domains": True,
    "allow_ip_sans": True,
    "allow_localhost": True,
}


def test_allowed_names_and_addresses_pass():
    assert pki_sans_denied(["db-1", "pg.internal", "a.b.internal", "internal", "localhost", "10.0.0.5", "fd00::1"], SERVER) == []


def test_names_outside_the_domains_are_denied_in_order():
    assert pki_sans_denied(["evil.example.com", "db-1", "db-2", "internal.evil.com"], SERVER) == [
        "evil.example.com",
        "db-2",
        "internal.evil.com",
    ]


def test_bare_domain_needs_allow_bare_domains():
    role = dict(SERVER, allow_bare_domains=False)
    assert pki_sans_denied(["internal", "x.internal"], role) == ["internal"]


def test_subdomain_needs_allow_subdomains():
    role = dict(SERVER, allow_subdomains="false")
    assert pki_sans_denied(["internal", "x.internal"], role) == ["x.internal"]


def test_ip_sans_can_be_forbidden():
    assert pki_sans_denied(["10.0.0.5", "db-1"], dict(SERVER, allow_ip_sans=False)) == ["10.0.0.5"]


def test_vault_defaults_for_unset_keys():
    # Vault's defaults: IP SANs and localhost allowed, bare domains and subdomains not.
    assert pki_sans_denied(["10.1.1.1", "localhost", "internal", "x.internal"], {"allowed_domains": "internal"}) == [
        "internal",
        "x.internal",
    ]


def test_allow_any_name():
    assert pki_sans_denied(["anything.example"], {"allow_any_name": True}) == []


def test_case_and_trailing_dot_do_not_matter():
    assert pki_sans_denied(["DB-1.", "PG.Internal"], SERVER) == []


def test_role_must_be_a_dict():
    with pytest.raises(AnsibleFilterError):
        pki_sans_denied(["db-1"], None)

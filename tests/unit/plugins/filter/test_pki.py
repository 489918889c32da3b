import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.filter.pki import pki_sans_denied, pki_server_role

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


GROUPS = {"all": ["gw-1", "db-1", "vault-1"], "ungrouped": []}
HOSTVARS = {
    "gw-1": {"llm_infra_private_address": "10.0.0.2"},
    "db-1": {"llm_infra_private_address": "fd00::3"},
    "vault-1": {"llm_infra_private_address": "10.0.0.4", "vault_listen_address": "10.0.1.4"},
}


def test_the_server_role_names_exactly_the_inventory_and_its_addresses():
    role = pki_server_role(GROUPS, HOSTVARS, ["llm.example.net", "gw-1"], ["192.0.2.0/28"])
    assert role["allowed_domains"] == ["localhost", "gw-1", "db-1", "vault-1", "llm.example.net"]
    assert role["allowed_ip_sans_cidr"] == ["10.0.0.2/32", "10.0.0.4/32", "10.0.1.4/32", "127.0.0.1/32", "192.0.2.0/28",
                                            "::1/128", "fd00::3/128"]
    assert (role["allow_subdomains"], role["allow_glob_domains"], role["allow_bare_domains"]) == (False, False, True)
    assert (role["key_type"], role["key_bits"]) == ("ec", 256)


def test_requests_are_checked_against_the_server_role_as_vault_checks_them():
    role = pki_server_role(GROUPS, HOSTVARS)
    assert pki_sans_denied(["gw-1", "10.0.0.2", "localhost", "127.0.0.1", "fd00::3"], role) == []
    # A subdomain of a host, a foreign name and an address of no host are refused, as Vault would.
    assert pki_sans_denied(["api.gw-1", "evil.example.org", "10.0.0.99", "fd00::99"], role) == [
        "api.gw-1", "evil.example.org", "10.0.0.99", "fd00::99"]


def test_the_filter_gives_what_the_roles_expressions_gave(render_in_play):
    """The vault role's former default, rendered in a real play (with the inventory as plain variables), and the
    filter agree."""
    old_names = "{{ (['localhost'] + t_groups['all'] | reject('eq', 'localhost') | list + extra_names) | unique }}"
    old_cidrs = ("{{ (t_groups['all'] | map('extract', t_hostvars) | selectattr('llm_infra_private_address', 'defined')"
                 " | map(attribute='llm_infra_private_address') | list"
                 " + t_groups['all'] | map('extract', t_hostvars) | selectattr('vault_listen_address', 'defined')"
                 " | map(attribute='vault_listen_address') | list + ['127.0.0.1', '::1'] + extra_addresses)"
                 " | map('regex_replace', '^([^/:]+)$', '\\1/32') | map('regex_replace', '^([^/]*:[^/]*)$', '\\1/128')"
                 " | unique | sort }}")
    variables = {"t_groups": GROUPS, "t_hostvars": HOSTVARS, "extra_names": ["llm.example.net"], "extra_addresses": ["192.0.2.10"]}
    names, cidrs = render_in_play([(old_names, variables), (old_cidrs, variables)])
    role = pki_server_role(GROUPS, HOSTVARS, ["llm.example.net"], ["192.0.2.10"])
    assert role["allowed_domains"] == names
    assert role["allowed_ip_sans_cidr"] == cidrs


def test_groups_are_required():
    with pytest.raises(AnsibleFilterError, match="expected the inventory's groups"):
        pki_server_role(["gw-1"], {})


def test_an_address_that_cannot_be_resolved_here_is_left_out():
    """A host whose address comes from facts this play has not gathered yields an undefined value, not an error."""
    from jinja2 import Undefined
    hostvars = {"a": {"llm_infra_private_address": Undefined(name="x")}, "b": {"llm_infra_private_address": "10.0.0.2"}}
    role = pki_server_role({"all": ["a", "b"]}, hostvars)
    assert role["allowed_ip_sans_cidr"] == ["10.0.0.2/32", "127.0.0.1/32", "::1/128"]
    assert role["allowed_domains"] == ["localhost", "a", "b"]

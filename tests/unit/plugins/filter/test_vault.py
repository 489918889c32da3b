import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.filter.vault import vault_restart_order


def health(initialized=True, sealed=False, standby=True, status=200):
    return {"__vault_before_restart": {"status": status, "json": {"initialized": initialized, "sealed": sealed, "standby": standby}}}


def test_the_active_member_goes_last_and_standbys_keep_inventory_order():
    hostvars = {"v1": health(standby=False), "v2": health(), "v3": health()}
    assert vault_restart_order(["v1", "v2", "v3"], hostvars) == [
        {"host": "v2", "serving": True, "active": False},
        {"host": "v3", "serving": True, "active": False},
        {"host": "v1", "serving": True, "active": True},
    ]


@pytest.mark.parametrize("facts", [
    {},                                                       # never answered (not running)
    {"__vault_before_restart": {"status": -1, "msg": "Connection refused"}},
    health(sealed=True, standby=False),                       # sealed: nothing to keep serving
    health(initialized=False, sealed=True),                   # a new cluster before init
    {"__vault_before_restart": {"status": 200, "json": "not json"}},
])
def test_a_member_that_does_not_serve_is_restarted_without_a_wait(facts):
    assert vault_restart_order(["v1"], {"v1": facts}) == [{"host": "v1", "serving": False, "active": False}]


def test_only_the_named_members_are_planned():
    hostvars = {"v1": health(standby=False), "v2": health()}
    assert vault_restart_order(["v2"], hostvars) == [{"host": "v2", "serving": True, "active": False}]


def test_a_list_of_members_is_required():
    with pytest.raises(AnsibleFilterError, match="expected a list of member names"):
        vault_restart_order("v1", {})

"""Unit tests of the vault_state module: comparison rules and the read-compare-write decision."""

import pytest

from ansible_collections.llm_infra.cluster.plugins.modules import vault_state


@pytest.mark.parametrize(
    "desired, actual",
    [
        ("720h", 2592000),
        ("30m", 1800),
        ("3600", 3600),
        (3600, 3600),
        ("a.example, b.example", ["a.example", "b.example"]),
        (["a", "b"], "a,b"),
        (True, "true"),
        ("false", False),
        ({"version": "2"}, {"version": "2", "other": 1}),
        ('path "x" {}\n', 'path "x" {}'),
        (2, "2"),
        # secret_id_bound_cidrs of a role without a binding reads back as null.
        ([], None),
        ("", None),
    ],
)
def test_equal_forms(desired, actual):
    assert vault_state.values_equal(desired, actual)


@pytest.mark.parametrize(
    "desired, actual",
    [
        ("720h", 3600),
        (["a", "b"], ["b", "a"]),
        (["a"], ["a", "b"]),
        (True, False),
        ({"version": "2"}, {"version": "1"}),
        ({"version": "2"}, "2"),
        ("kv", "pki"),
        ("1h", "1h0m"),
        (["10.0.0.1/32"], None),
    ],
)
def test_different_forms(desired, actual):
    assert not vault_state.values_equal(desired, actual)


def test_differing_keys_names_missing_and_changed_keys():
    desired = {"max_ttl": "72h", "allowed_domains": ["a"], "allow_ip_sans": True, "new": 1}
    actual = {"max_ttl": 259200, "allowed_domains": ["b"], "allow_ip_sans": True, "ignored": 5}
    assert vault_state.differing_keys(desired, actual) == ["allowed_domains", "new"]


class FakeClient:
    def __init__(self, current, write_status=204):
        self.current = current
        self.write_status = write_status
        self.writes = []

    def read(self, path):
        self.read_path = path
        return self.current

    def request(self, method, path, data=None):
        self.writes.append((method, path, data))
        return self.write_status, {"errors": ["denied"]} if self.write_status >= 400 else {}


class FakeModule:
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.params = {"read_path": None, "method": "POST", "data": {}}
        self.params.update(params)


def test_no_write_when_the_path_already_holds_the_values():
    client = FakeClient({"token_policies": ["pg"], "token_ttl": 3600})
    result = vault_state.run(FakeModule(path="auth/approle/role/pg", data={"token_policies": ["pg"], "token_ttl": "1h"}), client)
    assert result == {"changed": False, "existed": True, "differences": []}
    assert client.writes == []


def test_writes_when_a_value_differs_and_reads_the_read_path():
    client = FakeClient({"token_ttl": 60})
    module = FakeModule(path="auth/approle/role/pg", read_path="auth/approle/role/pg/x", data={"token_ttl": "1h"})
    result = vault_state.run(module, client)
    assert result["changed"] and result["differences"] == ["token_ttl"]
    assert client.read_path == "auth/approle/role/pg/x"
    assert client.writes == [("POST", "auth/approle/role/pg", {"token_ttl": "1h"})]


def test_writes_a_missing_path():
    client = FakeClient(None)
    result = vault_state.run(FakeModule(path="sys/mounts/secret", data={"type": "kv"}), client)
    assert result == {"changed": True, "existed": False, "differences": ["type"]}
    assert len(client.writes) == 1


def test_check_mode_never_writes():
    client = FakeClient(None)
    result = vault_state.run(FakeModule(check_mode=True, path="sys/mounts/secret", data={"type": "kv"}), client)
    assert result["changed"] and client.writes == []


def test_a_refused_write_fails_without_echoing_the_data():
    client = FakeClient(None, write_status=403)
    with pytest.raises(vault_state.VaultError) as error:
        vault_state.run(FakeModule(path="sys/policies/acl/x", data={"policy": "SECRET-VALUE"}), client)
    assert "HTTP 403" in str(error.value) and "SECRET-VALUE" not in str(error.value)

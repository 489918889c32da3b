import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.filter.postgresql import postgresql_verify_login


def login(user, database, password="", credential=None):
    return {"user": user, "database": database, "password": password,
            "credential": credential if credential is not None else ("postgresql/" + user if user else "")}


@pytest.mark.parametrize("users, databases, expected", [
    # The sandbox's and the example inventory's shape.
    ([{"name": "app"}], [{"name": "app", "owner": "app"}], login("app", "app")),
    # Another name than app: the probe follows the inventory.
    ([{"name": "chat"}], [{"name": "history", "owner": "chat"}], login("chat", "history")),
    # A database granted to the role comes before one it owns.
    ([{"name": "svc", "databases": ["granted"]}], [{"name": "owned", "owner": "svc"}], login("svc", "granted")),
    # A role without databases of its own still reaches `postgres`.
    ([{"name": "reporter"}], [{"name": "app", "owner": "app"}], login("reporter", "postgres")),
    # NOLOGIN roles and absent ones are skipped; an inline password is used as it is.
    ([{"name": "owner", "role_attr_flags": "NOLOGIN"}, {"name": "gone", "state": "absent"},
      {"name": "web", "password": "inline-secret"}], [], login("web", "postgres", password="inline-secret")),
])
def test_the_login_comes_from_the_inventory(users, databases, expected):
    assert postgresql_verify_login(users, databases) == expected


def test_no_login_role_means_no_probe():
    assert postgresql_verify_login([{"name": "owner", "role_attr_flags": "CREATEDB,NOLOGIN"}], []) == login("", "")
    assert postgresql_verify_login([], []) == login("", "")


def test_explicit_variables_win():
    users = [{"name": "app"}, {"name": "probe", "password": "p"}]
    assert postgresql_verify_login(users, [], "probe", "metrics") == login("probe", "metrics", password="p")
    assert postgresql_verify_login(users, [], "outsider") == login("outsider", "postgres")


@pytest.mark.parametrize("users, user, database, needle", [
    ([{"name": "app user"}], "", "", "the probe's role 'app user'"),
    ([{"name": "app"}], "", "db name=x", "the probe's database 'db name=x'"),
    ([], "9lives", "", "the probe's role '9lives'"),
])
def test_names_that_break_the_connection_string_are_refused(users, user, database, needle):
    with pytest.raises(AnsibleFilterError, match="verify_postgresql_user") as refused:
        postgresql_verify_login(users, [], user, database)
    assert needle in str(refused.value)


def test_lists_are_required():
    with pytest.raises(AnsibleFilterError, match="must be lists"):
        postgresql_verify_login({"name": "app"}, [])

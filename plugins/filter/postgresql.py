# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of the database layer."""

from __future__ import annotations

# Documented next to this file in one file per filter: postgresql_verify_login.yml.

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# Names verify.yml puts into a libpq connection string unquoted.
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")


def _present(entries):
    return [entry for entry in entries or [] if isinstance(entry, Mapping) and entry.get("state", "present") != "absent"]


def _can_log_in(user):
    flags = str(user.get("role_attr_flags") or "").upper().replace(",", " ").split()
    return "NOLOGIN" not in flags


def postgresql_verify_login(users, databases, user="", database=""):
    """The login verify.yml's SQL probe uses: {user, database, password, credential}; user '' when there is none.

    `user`/`database` (verify_postgresql_user/_database) win; else the first present login role of
    postgresql_users, and the first database it is granted, else the first it owns, else `postgres`. The password
    is the entry's own, else the credential postgresql/<user> the role generated.
    """
    if not isinstance(users, list) or not isinstance(databases, list):
        raise AnsibleFilterError("postgresql_verify_login: postgresql_users and postgresql_databases must be lists")
    present = _present(users)
    if user:
        entry = next((candidate for candidate in present if candidate.get("name") == user), {"name": user})
    else:
        entry = next((candidate for candidate in present if _can_log_in(candidate)), None)
        if entry is None:
            return {"user": "", "database": "", "password": "", "credential": ""}
    name = str(entry.get("name", ""))
    if not database:
        granted = [str(db) for db in entry.get("databases") or []]
        owned = [str(db.get("name")) for db in _present(databases) if db.get("owner") == name]
        database = (granted + owned + ["postgres"])[0]
    problems = ["%s %r must be letters, digits, _ and $ (at most 63, not starting with a digit)" % (what, value)
                for what, value in (("the probe's role", name), ("the probe's database", str(database)))
                if not NAME_RE.fullmatch(value)]
    if problems:
        raise AnsibleFilterError("postgresql_verify_login (verify_postgresql_user, verify_postgresql_database, "
                                 "postgresql_users): " + "; ".join(problems))
    return {"user": name, "database": str(database), "password": str(entry.get("password") or ""),
            "credential": "postgresql/" + name}


class FilterModule:
    def filters(self):
        return {"postgresql_verify_login": postgresql_verify_login}

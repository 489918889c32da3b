"""Bad input to the postgresql role fails in preflight, before any change, naming the variable.

The cases run as one playbook in --check mode, one inventory host with a local connection per case (see
playbook_runner.run_cases): the preflight asserts stop the play first, and check mode is a second safety net
because this runs on the CI machine itself. No case host is in postgresql_cluster_group ('database', absent from
the inventory), so each is a cluster of one, its own primary. This machine is Debian 12, whose archive ships
PostgreSQL 15.

The same file renders what no live test can reach here: the PGDG apt source (upstream and mirror) and
the memory-derived settings for a few RAM sizes, each a run of its own (not in check mode: the file is the result).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook_runner import REPO, assert_case_fails_naming, run_cases, run_playbook


BASE_VARS = {
    "llm_infra_private_address": "127.0.0.1",
}

CASES = {
    "unsupported-version": (
        {"postgresql_version": "13"},
        ["postgresql_version '13'", "supported: 15"],
    ),
    "invalid-cidr": (
        {"postgresql_hba_entries": [{"type": "hostssl", "address": "10.0.0.300/8", "method": "scram-sha-256"}]},
        ["postgresql_hba_entries[0].address", "10.0.0.300/8"],
    ),
    "address-without-prefix": (
        {"postgresql_hba_entries": [{"type": "hostssl", "address": "10.0.0.7", "method": "scram-sha-256"}]},
        ["postgresql_hba_entries[0].address", "10.0.0.7"],
    ),
    "non-tls-remote-entry": (
        {
            "postgresql_hba_entries": [
                {"type": "hostssl", "address": "10.1.0.0/16", "method": "scram-sha-256"},
                {"type": "host", "address": "10.2.0.0/16", "method": "scram-sha-256"},
            ]
        },
        ["postgresql_hba_entries[1].type", '"host"', "10.2.0.0/16", "hostssl"],
    ),
    "weak-auth-method": (
        {"postgresql_hba_entries": [{"type": "hostssl", "address": "10.1.0.0/16", "method": "md5"}]},
        ["postgresql_hba_entries[0].method", "md5"],
    ),
    "unknown-tls-source": (
        {"postgresql_tls_source": "vault"},
        ["postgresql_tls_source", "vault"],
    ),
    "tls-files-missing": (
        {"postgresql_tls_source": "files"},
        ["postgresql_tls_cert_file"],
    ),
    "primary-outside-the-cluster": (
        {"postgresql_primary_host": "db-9"},
        # The members of a group that is not in the inventory: the host alone, named like its case.
        ["postgresql_primary_host 'db-9'", "postgresql_cluster_group 'database'", "(primary-outside-the-cluster)"],
    ),
    "replication-user-not-a-role-name": (
        {"postgresql_replication_user": "Repl-User"},
        ["postgresql_replication_user 'Repl-User'", "lower-case role name"],
    ),
    "replication-user-also-an-application-user": (
        {"postgresql_replication_user": "app", "postgresql_users": [{"name": "app"}]},
        ["postgresql_replication_user 'app'", "not also in postgresql_users"],
    ),
}


# The inventory names the case's host the primary, and its data directory (made by the fixture) says it is a hot
# standby that was not promoted.
STANDBY_CASE = "primary-runs-as-a-standby"
PGDG_CASE = "bad-pgdg-version"

PLAY = [
    {
        "name": "Apply the postgresql role with bad input",
        "hosts": "cases",
        "gather_facts": True,
        "vars": BASE_VARS,
        "tasks": [
            {
                "name": "Apply the role",
                "ansible.builtin.include_role": {"name": "llm_infra.cluster.postgresql"},
            }
        ],
    }
]

# The first install task: preflight must stop every case before it.
FIRST_INSTALL_TASK = "Install postgresql-common first"


@pytest.fixture(scope="module")
def postgresql_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("postgresql")
    data_dir = base / STANDBY_CASE / "main"
    data_dir.mkdir(parents=True)
    (data_dir / "standby.signal").write_text("")
    cases = {name: role_vars for name, (role_vars, _expected) in CASES.items()}
    cases[STANDBY_CASE] = {"postgresql_data_dir": str(data_dir)}
    cases[PGDG_CASE] = {"postgresql_package_source": "pgdg", "postgresql_version": "12"}
    return run_cases(base, PLAY, cases)


def assert_stopped_in_preflight(run, *needles: str) -> None:
    assert_case_fails_naming(run, *needles, not_reached=(FIRST_INSTALL_TASK,))
    assert FIRST_INSTALL_TASK not in run.stdout, run.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_naming_the_variable(postgresql_runs, case: str) -> None:
    assert_stopped_in_preflight(postgresql_runs[case], *CASES[case][1])


def test_a_primary_that_runs_as_a_standby_is_refused(postgresql_runs) -> None:
    """The inventory names a host the primary whose data directory says it is a hot standby (not promoted)."""
    assert_stopped_in_preflight(postgresql_runs[STANDBY_CASE],
                                f"{STANDBY_CASE} is postgresql_primary_host but runs as a hot standby",
                                f"playbooks/promote.yml -l {STANDBY_CASE}")


def test_bad_pgdg_version_names_the_supported_ones(postgresql_runs) -> None:
    assert_stopped_in_preflight(postgresql_runs[PGDG_CASE], "postgresql_version '12'", "13, 14, 15, 16, 17, 18")


@pytest.mark.parametrize(
    ("mirror", "expected_uri"),
    [
        ("", "https://apt.postgresql.org/pub/repos/apt"),
        ("https://mirror.example.org", "https://mirror.example.org/pub/repos/apt"),
    ],
)
def test_pgdg_source_renders_with_pinned_key_and_mirror(tmp_path: Path, mirror: str, expected_uri: str) -> None:
    """PGDG cannot be reached here, so its apt source is only rendered: URL, suite, key and mirror override."""
    role = REPO / "roles" / "postgresql"
    dest = tmp_path / "pgdg.sources"
    play = [
        {
            "name": "Render the PGDG source of the postgresql role",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {
                "llm_infra_mirror_url": mirror,
                "ansible_facts": {"distribution_release": "bookworm"},
            },
            "tasks": [
                {
                    "name": "Load the role's internal variables",
                    "ansible.builtin.include_vars": str(role / "vars" / "main.yml"),
                },
                {
                    "name": "Render the source",
                    "ansible.builtin.template": {
                        "src": str(role / "templates" / "etc" / "apt" / "sources.list.d" / "pgdg.sources.j2"),
                        "dest": str(dest),
                        "mode": "0644",
                    },
                },
            ],
        }
    ]
    result = run_playbook(tmp_path, play, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = dest.read_text().splitlines()
    assert f"URIs: {expected_uri}" in lines
    assert "Suites: bookworm-pgdg" in lines
    assert "Signed-By: /usr/share/keyrings/apt.postgresql.org.asc" in lines


@pytest.mark.parametrize(
    ("memtotal_mb", "overrides", "expected"),
    [
        (
            2048,
            {},
            {
                "shared_buffers": "'512MB'",
                "effective_cache_size": "'1536MB'",
                "maintenance_work_mem": "'128MB'",
                "work_mem": "'5MB'",
            },
        ),
        (262144, {}, {"shared_buffers": "'16384MB'", "maintenance_work_mem": "'2048MB'", "work_mem": "'256MB'"}),
        (
            8192,
            {"shared_buffers": "1GB", "log_connections": True},
            {"shared_buffers": "'1GB'", "log_connections": "on"},
        ),
    ],
)
def test_settings_derive_from_memory_and_accept_overrides(
    tmp_path: Path, memtotal_mb: int, overrides: dict, expected: dict
) -> None:
    role = REPO / "roles" / "postgresql"
    dest = tmp_path / "50-llm-infra.conf"
    play = [
        {
            "name": "Render the settings of the postgresql role",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {
                "llm_infra_private_address": "10.0.0.5",
                "ansible_facts": {
                    "memtotal_mb": memtotal_mb,
                    "distribution": "Debian",
                    "distribution_major_version": "12",
                },
            },
            "tasks": [
                {
                    "name": "Load the role's defaults",
                    "ansible.builtin.include_vars": str(role / "defaults" / "main.yml"),
                },
                {
                    "name": "Load the role's internal variables",
                    "ansible.builtin.include_vars": str(role / "vars" / "main.yml"),
                },
                {
                    "name": "Render the settings",
                    "ansible.builtin.template": {
                        "src": str(
                            role / "templates" / "etc" / "postgresql" / "main" / "conf.d" / "50-llm-infra.conf.j2"
                        ),
                        "dest": str(dest),
                        "mode": "0644",
                    },
                },
            ],
        }
    ]
    # Extra vars, because include_vars of the defaults would override play vars.
    result = run_playbook(tmp_path, play, extra_vars={"postgresql_settings": overrides}, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    settings = dict(
        line.split(" = ", 1) for line in dest.read_text().splitlines() if " = " in line and not line.startswith("#")
    )
    for name, value in expected.items():
        assert settings[name] == value, settings
    assert settings["ssl"] == "on" and settings["password_encryption"] == "'scram-sha-256'", settings
    assert settings["listen_addresses"] == "'localhost,10.0.0.5'", settings

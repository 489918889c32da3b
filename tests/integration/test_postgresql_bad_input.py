"""Bad input to the postgresql role fails in preflight, before any change, naming the variable.

Each case runs the venv's ansible-playbook against localhost (connection local) in check mode: the
preflight asserts stop the play first, and check mode is a second safety net because this runs on the
CI machine itself. This machine is Debian 12, whose archive ships PostgreSQL 15.

The same file renders what no live test can reach here: the PGDG apt source (upstream and mirror) and
the memory-derived settings for a few RAM sizes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from playbook_runner import REPO, run_playbook


BASE_VARS = {
    "llm_infra_private_address": "127.0.0.1",
}

CASES = {
    "unsupported_version": (
        {"postgresql_version": "13"},
        ["postgresql_version '13'", "supported: 15"],
    ),
    "invalid_cidr": (
        {"postgresql_hba_entries": [{"type": "hostssl", "address": "10.0.0.300/8", "method": "scram-sha-256"}]},
        ["postgresql_hba_entries[0].address", "10.0.0.300/8"],
    ),
    "address_without_prefix": (
        {"postgresql_hba_entries": [{"type": "hostssl", "address": "10.0.0.7", "method": "scram-sha-256"}]},
        ["postgresql_hba_entries[0].address", "10.0.0.7"],
    ),
    "non_tls_remote_entry": (
        {
            "postgresql_hba_entries": [
                {"type": "hostssl", "address": "10.1.0.0/16", "method": "scram-sha-256"},
                {"type": "host", "address": "10.2.0.0/16", "method": "scram-sha-256"},
            ]
        },
        ["postgresql_hba_entries[1].type", '"host"', "10.2.0.0/16", "hostssl"],
    ),
    "weak_auth_method": (
        {"postgresql_hba_entries": [{"type": "hostssl", "address": "10.1.0.0/16", "method": "md5"}]},
        ["postgresql_hba_entries[0].method", "md5"],
    ),
    "unknown_tls_source": (
        {"postgresql_tls_source": "vault"},
        ["postgresql_tls_source", "vault"],
    ),
    "tls_files_missing": (
        {"postgresql_tls_source": "files"},
        ["postgresql_tls_cert_file"],
    ),
    "primary_outside_the_cluster": (
        {"postgresql_primary_host": "db-9"},
        ["postgresql_primary_host 'db-9'", "postgresql_cluster_group 'database'", "(localhost)"],
    ),
    "replication_user_not_a_role_name": (
        {"postgresql_replication_user": "Repl-User"},
        ["postgresql_replication_user 'Repl-User'", "lower-case role name"],
    ),
    "replication_user_also_an_application_user": (
        {"postgresql_replication_user": "app", "postgresql_users": [{"name": "app"}]},
        ["postgresql_replication_user 'app'", "not also in postgresql_users"],
    ),
}


def run_role(tmp_path: Path, role_vars: dict) -> subprocess.CompletedProcess:
    play = [
        {
            "name": "Apply the postgresql role with bad input",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": True,
            "vars": {**BASE_VARS, **role_vars},
            "tasks": [
                {
                    "name": "Apply the role",
                    "ansible.builtin.include_role": {"name": "llm_infra.cluster.postgresql"},
                }
            ],
        }
    ]
    return run_playbook(tmp_path, play)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_naming_the_variable(tmp_path: Path, case: str) -> None:
    role_vars, expected = CASES[case]
    result = run_role(tmp_path, role_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for fragment in expected:
        assert fragment in output, f"{fragment!r} missing from the output:\n{output}"
    # Nothing past preflight ran: the first install task never started.
    assert "Install postgresql-common first" not in output, output


def test_a_primary_that_runs_as_a_standby_is_refused(tmp_path: Path) -> None:
    """The inventory names a host the primary whose data directory says it is a hot standby (not promoted)."""
    data_dir = tmp_path / "main"
    data_dir.mkdir()
    (data_dir / "standby.signal").write_text("")
    result = run_role(tmp_path, {"postgresql_data_dir": str(data_dir)})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "localhost is postgresql_primary_host but runs as a hot standby" in output, output
    assert "playbooks/promote.yml -l localhost" in output, output
    assert "Install postgresql-common first" not in output, output


def test_bad_pgdg_version_names_the_supported_ones(tmp_path: Path) -> None:
    result = run_role(tmp_path, {"postgresql_package_source": "pgdg", "postgresql_version": "12"})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "postgresql_version '12'" in output and "13, 14, 15, 16, 17, 18" in output, output


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

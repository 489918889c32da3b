"""Bad input to the postgresql role fails in preflight, before any change, naming the variable.

Each case runs the venv's ansible-playbook against localhost (connection local) in check mode: the
preflight asserts stop the play first, and check mode is a second safety net because this runs on the
CI machine itself. This machine is Debian 12, whose archive ships PostgreSQL 15.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
if not ANSIBLE_PLAYBOOK.exists():
    ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"

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
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(json.dumps(play, indent=2))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"),
        "ANSIBLE_CACHE_PLUGIN": "memory",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        # Keep the playbook's output whole: messages must not be wrapped across lines.
        "COLUMNS": "1000",
    }
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "--check", str(playbook)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


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

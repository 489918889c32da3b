"""Bad input to the pki role's `certificate` entry point fails before any change, naming the variable.

Each case runs the venv's ansible-playbook against localhost (connection local) in check mode, like
test_postgresql_bad_input.py: the entry point's checks stop the play before the first package, key or request.
No Vault is needed: the SANs are checked against the PKI role's policy (pki_vault_roles) before anything else.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from playbook_runner import run_playbook


VAULT_VARS = {
    "pki_issuer": "vault",
    "pki_vault_url": "https://127.0.0.1:8200",
    "pki_certificate_name": "web",
}

CASES = {
    "san_outside_allowed_domains": (
        # The server role signs only the inventory's host names (here localhost): both names are refused.
        {**VAULT_VARS, "pki_certificate_sans": ["db-1.internal", "evil.example.com", "10.0.0.5"]},
        ["pki_certificate_sans contains db-1.internal, evil.example.com", "'server'"],
    ),
    "bare_host_name_not_in_the_role": (
        {
            **VAULT_VARS,
            "pki_certificate_sans": ["db-7", "10.0.0.5"],
            "vault_pki_roles": [{"name": "server", "allowed_domains": ["internal"], "allow_subdomains": True}],
        },
        ["pki_certificate_sans contains db-7"],
    ),
    "ip_sans_forbidden": (
        {
            **VAULT_VARS,
            "pki_certificate_sans": ["db.internal", "10.0.0.5"],
            "pki_vault_roles": [
                {"name": "server", "allowed_domains": ["internal"], "allow_subdomains": True, "allow_ip_sans": False}
            ],
        },
        ["pki_certificate_sans contains 10.0.0.5"],
    ),
    "unknown_pki_role": (
        {**VAULT_VARS, "pki_certificate_sans": ["db.internal"], "pki_certificate_role": "nope"},
        ["pki_certificate_role 'nope'", "server"],
    ),
    "unknown_issuer": (
        {"pki_certificate_name": "web", "pki_issuer": "acme"},
        ["pki_issuer", "acme"],
    ),
    "empty_name": (
        {"pki_certificate_name": "", "pki_issuer": "local"},
        ["pki_certificate_name"],
    ),
}


def run_entry_point(tmp_path: Path, role_vars: dict) -> subprocess.CompletedProcess:
    play = [
        {
            "name": "Request a certificate with bad input",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Obtain the certificate",
                    "ansible.builtin.include_role": {"name": "llm_infra.cluster.pki", "tasks_from": "certificate"},
                }
            ],
        }
    ]
    extra = {"llm_infra_credentials_dir": str(tmp_path / "credentials"), "llm_infra_private_address": "127.0.0.1", **role_vars}
    return run_playbook(tmp_path, play, extra_vars=extra)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_before_any_change(tmp_path: Path, case: str) -> None:
    role_vars, expected = CASES[case]
    result = run_entry_point(tmp_path, role_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for fragment in expected:
        assert fragment in output, f"{fragment!r} missing from the output:\n{output}"
    # Nothing past the checks ran: no CA, no package, no key, no request.
    for task in ("Create the CA private key", "Install the libraries", "Create the private key on the host", "Read Vault's root"):
        assert task not in output, output
    assert not any(line.startswith("changed: [") for line in output.splitlines()), output
    assert not (tmp_path / "credentials").exists(), "the checks must not create the credentials store"

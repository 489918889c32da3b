"""Bad input to the pki role's `certificate` entry point fails before any change, naming the variable.

The cases run as one playbook in --check mode, one inventory host with a local connection per case (see
playbook_runner.run_cases), like test_postgresql_bad_input.py: the entry point's checks stop the play before the
first package, key or request. No Vault is needed: the SANs are checked against the PKI role's policy
(pki_vault_roles) before anything else.
"""

from __future__ import annotations

import pytest

from playbook_runner import assert_case_fails_naming, run_cases


VAULT_VARS = {
    "pki_issuer": "vault",
    "pki_vault_url": "https://127.0.0.1:8200",
    "pki_certificate_name": "web",
}

CASES = {
    "san-outside-allowed-domains": (
        # The server role signs only the inventory's host names (here the cases' own): both names are refused.
        {**VAULT_VARS, "pki_certificate_sans": ["db-1.internal", "evil.example.com", "10.0.0.5"]},
        ["pki_certificate_sans contains db-1.internal, evil.example.com", "'server'"],
    ),
    "bare-host-name-not-in-the-role": (
        {
            **VAULT_VARS,
            "pki_certificate_sans": ["db-7", "10.0.0.5"],
            "vault_pki_roles": [{"name": "server", "allowed_domains": ["internal"], "allow_subdomains": True}],
        },
        ["pki_certificate_sans contains db-7"],
    ),
    "ip-sans-forbidden": (
        {
            **VAULT_VARS,
            "pki_certificate_sans": ["db.internal", "10.0.0.5"],
            "pki_vault_roles": [
                {"name": "server", "allowed_domains": ["internal"], "allow_subdomains": True, "allow_ip_sans": False}
            ],
        },
        ["pki_certificate_sans contains 10.0.0.5"],
    ),
    "unknown-pki-role": (
        {**VAULT_VARS, "pki_certificate_sans": ["db.internal"], "pki_certificate_role": "nope"},
        ["pki_certificate_role 'nope'", "server"],
    ),
    "unknown-issuer": (
        {"pki_certificate_name": "web", "pki_issuer": "acme"},
        ["pki_issuer", "acme"],
    ),
    "empty-name": (
        {"pki_certificate_name": "", "pki_issuer": "local"},
        ["pki_certificate_name"],
    ),
}

PLAY = [
    {
        "name": "Request a certificate with bad input",
        "hosts": "cases",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Obtain the certificate",
                "ansible.builtin.include_role": {"name": "llm_infra.cluster.pki", "tasks_from": "certificate"},
            }
        ],
    }
]

# Nothing past the checks may run: no CA, no package, no key, no request.
AFTER_THE_CHECKS = ("Create the CA private key", "Install the libraries", "Create the private key on the host",
                    "Read Vault's root")


def credentials_dir(base, case):
    return base / "credentials" / case


@pytest.fixture(scope="module")
def pki_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("pki")
    cases = {
        name: {"llm_infra_credentials_dir": str(credentials_dir(base, name)), "llm_infra_private_address": "127.0.0.1",
               **role_vars}
        for name, (role_vars, _expected) in CASES.items()
    }
    return base, run_cases(base, PLAY, cases)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_before_any_change(pki_runs, case: str) -> None:
    base, runs = pki_runs
    run = runs[case]
    assert_case_fails_naming(run, *CASES[case][1], not_reached=AFTER_THE_CHECKS)
    for task in AFTER_THE_CHECKS:
        assert task not in run.stdout, run.stdout
    assert not credentials_dir(base, case).exists(), "the checks must not create the credentials store"

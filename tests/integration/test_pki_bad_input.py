"""Bad input to the pki role's `certificate` entry point fails before any change, naming the variable.

The cases run as one playbook in --check mode, one inventory host with a local connection per case (see
playbook_runner.run_cases), like test_postgresql_bad_input.py: the entry point's checks stop the play before the
first package, key or request. No Vault is needed: the SANs are checked against the PKI role's policy
(pki_vault_roles) before anything else.

The policy is the vault role's, handed over by playbooks/pki_policy.yml, which the layer playbooks import: the
WIRED cases run that very playbook first, on an inventory whose case hosts form the vault group, so what they are
checked against is the vault role's vault_pki_roles with its defaults, and never a copy of it.
"""

from __future__ import annotations

import pytest

from playbook_runner import REPO, assert_case_fails_naming, run_cases


VAULT_VARS = {
    "pki_issuer": "vault",
    "pki_vault_url": "https://127.0.0.1:8200",
    "pki_certificate_name": "web",
}

# The pki role on its own: the policy comes from the case (an inventory that sets pki_vault_roles keeps it).
CASES = {
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
    "unknown-issuer": (
        {"pki_certificate_name": "web", "pki_issuer": "acme"},
        ["pki_issuer", "acme"],
    ),
    "empty-name": (
        {"pki_certificate_name": "", "pki_issuer": "local"},
        ["pki_certificate_name"],
    ),
    # Without a policy nothing is checked before signing, but Vault must still be addressed.
    "vault-not-addressed": (
        {**VAULT_VARS, "pki_vault_url": "", "pki_certificate_sans": ["db.internal"]},
        ["pki_vault_url ('') must be set"],
    ),
}

# Through playbooks/pki_policy.yml: the vault role's policy, its defaults applied.
WIRED_CASES = {
    "san-outside-allowed-domains": (
        # The server role signs only the inventory's host names (here the cases' own): both names are refused.
        {**VAULT_VARS, "pki_certificate_sans": ["db-1.internal", "evil.example.com", "10.0.0.5"]},
        ["pki_certificate_sans contains db-1.internal, evil.example.com", "'server'"],
    ),
    "extra-name-of-the-vault-role": (
        # vault_pki_server_extra_names reaches the check: the gateway's public name passes, another name does not.
        {**VAULT_VARS, "vault_pki_server_extra_names": ["llm.example.internal"],
         "pki_certificate_sans": ["llm.example.internal", "evil.example.com"]},
        ["pki_certificate_sans contains evil.example.com, which", "llm.example.internal"],
    ),
    "bare-host-name-not-in-the-role": (
        {
            **VAULT_VARS,
            "pki_certificate_sans": ["db-7", "10.0.0.5"],
            "vault_pki_roles": [{"name": "server", "allowed_domains": ["internal"], "allow_subdomains": True}],
        },
        ["pki_certificate_sans contains db-7"],
    ),
    "unknown-pki-role": (
        {**VAULT_VARS, "pki_certificate_sans": ["db.internal"], "pki_certificate_role": "nope"},
        ["pki_certificate_role 'nope'", "server"],
    ),
}


PLAY = [
    {
        "name": "Request a certificate with bad input",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Obtain the certificate",
                "ansible.builtin.include_role": {"name": "llm_infra.cluster.pki", "tasks_from": "certificate"},
            }
        ],
    }
]
WIRED_PLAY = [{"name": "Vault PKI name policy", "ansible.builtin.import_playbook": str(REPO / "playbooks" / "pki_policy.yml")},
              *PLAY]

# Nothing past the checks may run: no CA, no package, no key, no request.
AFTER_THE_CHECKS = ("Create the CA private key", "Install the libraries", "Create the private key on the host",
                    "Read Vault's root")


def credentials_dir(base, case):
    return base / "credentials" / case


def batch(base, cases):
    return {
        name: {"llm_infra_credentials_dir": str(credentials_dir(base, name)), "llm_infra_private_address": "127.0.0.1",
               **role_vars}
        for name, (role_vars, _expected) in cases.items()
    }


@pytest.fixture(scope="module")
def pki_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("pki")
    runs = run_cases(tmp_path_factory.mktemp("pki-alone"), PLAY, batch(base, CASES))
    # The wired cases' hosts form the vault group, as Vault's members would: the handed-over policy names them.
    runs.update(run_cases(tmp_path_factory.mktemp("pki-wired"), WIRED_PLAY, batch(base, WIRED_CASES), group="vault"))
    return base, runs


@pytest.mark.parametrize("case", sorted(CASES) + sorted(WIRED_CASES))
def test_bad_input_fails_before_any_change(pki_runs, case: str) -> None:
    base, runs = pki_runs
    run = runs[case]
    assert_case_fails_naming(run, *{**CASES, **WIRED_CASES}[case][1], not_reached=AFTER_THE_CHECKS)
    for task in AFTER_THE_CHECKS:
        assert task not in run.stdout, run.stdout
    assert not credentials_dir(base, case).exists(), "the checks must not create the credentials store"


def test_the_vault_roles_policy_is_handed_over(pki_runs) -> None:
    """The wired cases were checked against the policy the vault role states, set by playbooks/pki_policy.yml."""
    _base, runs = pki_runs
    [handed] = [r for r in runs["extra-name-of-the-vault-role"].task_results("Pass it to the pki role")
                if r["event"] == "runner_on_ok"]
    [server] = handed["res"]["ansible_facts"]["pki_vault_roles"]
    assert server["name"] == "server" and server["allow_bare_domains"] is True and server["allow_subdomains"] is False
    assert set(server["allowed_domains"]) == {"localhost", "llm.example.internal", *WIRED_CASES}

"""Bad input to the vault role fails in preflight, before any change, with a message naming the variable.

The cases of the role's main entry point run as one playbook in --check mode, one inventory host with a local
connection per case (see playbook_runner.run_cases), each host a raft cluster of one: vault_cluster_group names a
group of its own that holds only that host. The cases whose meaning is the inventory (a cluster of two hosts) or
whose path runs tasks once for the whole play (the restore entry point's run_once checks) run on their own, each
the venv's ansible-playbook in check mode with a generated inventory, exactly as an operator's mistake would reach
the role.
"""

from __future__ import annotations

import sys

import pytest

from playbook_runner import assert_case_fails_naming, run_cases, run_playbook

# A well-formed digest, so that preflight gets past the release checks to the one under test.
PINNED = {"vault_release_sha256": {"amd64": "0" * 64, "arm64": "0" * 64}}

ARMORED = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF...\n-----END PGP PUBLIC KEY BLOCK-----"
# The start of a real base64 public key (old-format packet header 0x99): the shape, not a usable key.
BASE64_KEY = "mQENBFzQ" + "A" * 60

# Every case: its variables (llm_infra_credentials_dir and vault_cluster_group come from the fixture) and the needles
# the failed check must name, the variable at fault first.
VAULT_CASES = {
    "threshold-larger-than-shares": (
        {"vault_init_key_shares": 3, "vault_init_key_threshold": 4},
        ["vault_init_key_threshold"],
    ),
    "storage-backend-other-than-raft": ({"vault_storage_backend": "file"}, ["vault_storage_backend"]),
    **{
        f"local-install-without-a-checksum-{label}": (
            {"vault_install_method": "local", "vault_local_binary": "/bin/true", "vault_local_binary_sha256": sha},
            ["vault_local_binary_sha256"],
        )
        for label, sha in (("empty", ""), ("abc", "abc"))
    },
    "listener-san-refused-by-its-pki-role": (
        {**PINNED, "vault_tls_extra_sans": ["vault.example.com"]},
        ["vault_tls_extra_sans", "vault.example.com"],
    ),
    "listener-pki-role-missing": ({**PINNED, "vault_tls_pki_role": "nosuchrole"}, ["vault_tls_pki_role"]),
    # OpenBao's digests are not pinned in vars/main.yml: the default release install must stop, not trust the network.
    "release-without-a-pinned-checksum": (
        {"vault_install_method": "release"},
        ["vault_release_sha256", "checksums.txt"],
    ),
    "release-with-a-malformed-checksum": (
        {"vault_install_method": "release", "vault_release_sha256": {"amd64": "abc", "arm64": "abc"}},
        ["vault_release_sha256"],
    ),
    **{
        f"automation-bound-to-{label}": (
            {**PINNED, "vault_automation_bound_cidrs": cidrs},
            ["vault_automation_bound_cidrs"],
        )
        for label, cidrs in (
            ("a-name", ["controller"]),
            ("a-bad-prefix", ["10.0.0.1/33"]),
            ("a-network-and-a-rule", ["10.0.0.0/8\nallow all"]),
        )
    },
    "server-role-extra-address-that-is-not-one": (
        {**PINNED, "vault_pki_server_extra_addresses": ["gateway.example"]},
        ["vault_pki_server_extra_addresses"],
    ),
    "automation-named-for-an-unknown-pki-role": (
        {**PINNED, "vault_automation_pki_roles": ["server", "client"]},
        ["vault_automation_pki_roles"],
    ),
    "a-service-named-like-the-automation": (
        {**PINNED, "vault_services": [{"name": "llm-infra-automation"}]},
        ["vault_automation_approle"],
    ),
    **{
        f"secret-id-lifetime-{label}": (
            {**PINNED, "vault_automation_secret_id_ttl": ttl, "vault_automation_secret_id_renew_before": renew},
            ["vault_automation_secret_id_renew_before"],
        )
        for label, ttl, renew in (
            ("zero", "0", "1h"),
            ("renewed-at-once", "24h", "24h"),
            ("in-words", "30 days", "1h"),
        )
    },
    **{
        f"custodian-keys-{label}": (
            {**PINNED, "vault_init_key_shares": 1, "vault_init_key_threshold": 1, "vault_init_pgp_keys": keys},
            ["vault_init_pgp_keys"],
        )
        for label, keys in (
            ("armored", [ARMORED]),
            ("not-a-key", ["not a key"]),
            ("two-for-one-share", [BASE64_KEY] * 2),
        )
    },
    # Its own credentials folder, as the fixture sets it.
    "init-password-beside-the-init-file-outside-a-sandbox": (
        {**PINNED, "vault_init_password_file": "{{ llm_infra_credentials_dir }}/vault-init.pass"},
        ["vault_init_password_file", "vault_init_password_file_beside_init"],
    ),
    **{
        f"snapshot-settings-{label}": ({"vault_snapshot_enabled": True, **extra}, ["vault_snapshot_targets"])
        for label, extra in (
            ("unknown-target", {"vault_snapshot_targets": ["tape"]}),
            ("no-target", {"vault_snapshot_targets": []}),
            ("zero-retention", {"vault_snapshot_retention_local": 0}),
            ("named-like-the-automation", {"vault_snapshot_approle": "llm-infra-automation"}),
        )
    },
    "snapshot-bucket-without-a-storage-group": (
        {"vault_snapshot_enabled": True, "vault_snapshot_targets": ["s3"]},
        ["vault_snapshot_s3_url"],
    ),
}

# Each case host puts itself in the group its vault_cluster_group names, which holds no other host.
VAULT_PLAY = [
    {
        "name": "Make every case a cluster of its own",
        "hosts": "cases",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Join the case's own cluster group",
                "ansible.builtin.group_by": {"key": "{{ vault_cluster_group }}"},
                # Only the inventory in memory changes, which group_by reports as a change.
                "changed_when": False,
            }
        ],
    },
    {
        "name": "Apply the vault role",
        "hosts": "cases",
        "gather_facts": True,
        "tasks": [{"name": "Vault role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.vault"}}],
    },
]


def credentials_dir(base, case):
    return base / "credentials" / case


@pytest.fixture(scope="module")
def vault_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("vault")
    cases = {
        name: {
            "llm_infra_credentials_dir": str(credentials_dir(base, name)),
            "vault_cluster_group": "vault_" + name.replace("-", "_"),
            **case_vars,
        }
        for name, (case_vars, _needles) in VAULT_CASES.items()
    }
    runs = run_cases(base, VAULT_PLAY, cases, host_vars={"llm_infra_private_address": "127.0.0.1"})
    return base, runs


@pytest.mark.parametrize("case", VAULT_CASES)
def test_vault_bad_input(vault_runs, case):
    base, runs = vault_runs
    run = runs[case]
    assert_case_fails_naming(run, *VAULT_CASES[case][1])
    # The host's last task was the preflight check that failed: nothing after it ran there.
    last = run.task_results()[-1]
    assert last["event"] == "runner_on_failed" and "Check" in last["task"], (
        f"the last task run on {case} was not a failed preflight check: {last['task']}\n{run.stdout}")
    assert not credentials_dir(base, case).exists(), "preflight must not create the credentials store"


PLAYBOOK = [
    {
        "name": "Apply the vault role",
        "hosts": "vault",
        "gather_facts": True,
        "tasks": [{"name": "Vault role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.vault"}}],
    }
]


def run_role(tmp_path, playbook, hosts=("vault-a",), extra_vars=None):
    host_vars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "llm_infra_private_address": "127.0.0.1",
    }
    inventory = {"all": {"children": {"vault": {"hosts": {h: dict(host_vars) for h in hosts}}}}}
    extra_vars = dict({"llm_infra_credentials_dir": str(tmp_path / "credentials")}, **(extra_vars or {}))
    result = run_playbook(tmp_path, playbook, inventory=inventory, extra_vars=extra_vars)
    return result.returncode, result.stdout + result.stderr


def assert_failed_in_preflight(rc, output, variable, tmp_path):
    assert rc != 0, output
    failed = [line for line in output.splitlines() if line.startswith("TASK [")]
    assert failed, output
    assert "Check" in failed[-1], "the last task run was not a preflight check: %s" % failed[-1]
    assert variable in output, "the failure does not name %s:\n%s" % (variable, output)
    assert not any(line.startswith("changed: [") for line in output.splitlines()), output
    assert not (tmp_path / "credentials").exists(), "preflight must not create the credentials store"


def test_even_cluster_size(tmp_path):
    # The inventory is the input under test (a group of two voters): a run of its own.
    rc, out = run_role(tmp_path, PLAYBOOK, hosts=("vault-a", "vault-b"))
    assert_failed_in_preflight(rc, out, "vault_cluster_group", tmp_path)
    assert "2 host(s)" in out


RESTORE_PLAYBOOK = [
    {
        "name": "Restore the vault role",
        "hosts": "vault",
        "gather_facts": True,
        "tasks": [
            {
                "name": "Vault restore",
                "ansible.builtin.include_role": {"name": "llm_infra.cluster.vault", "tasks_from": "restore"},
            }
        ],
    }
]


# The restore entry point checks its request with run_once tasks: each case runs on its own.
@pytest.mark.parametrize(
    "extra, needle",
    [
        ({}, "vault_restore_snapshot_file"),
        ({"vault_restore_snapshot_file": "/nonexistent/snap.enc"}, "is not a file on the controller"),
        ({"vault_restore_source": "s3"}, "vault_snapshot_s3_url"),
    ],
    ids=["no-file-named", "file-missing", "bucket-without-storage-group"],
)
def test_restore_refuses_before_any_change(tmp_path, extra, needle):
    rc, output = run_role(tmp_path, RESTORE_PLAYBOOK, extra_vars=extra)
    assert rc != 0, output
    assert needle in output, output
    assert "Nothing was changed" in output or "Check" in output, output
    assert not any(line.startswith("changed: [") for line in output.splitlines()), output
    assert not (tmp_path / "credentials").exists(), output

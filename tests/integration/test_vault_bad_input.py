"""Bad input to the vault role fails in preflight, before any change, with a message naming the variable.

Each case runs the venv's ansible-playbook in check mode against localhost (connection local) with a generated
inventory, exactly as an operator's mistake would reach the role.
"""

import sys

import pytest

from playbook_runner import run_playbook

PLAYBOOK = [
    {
        "name": "Apply the vault role",
        "hosts": "vault",
        "gather_facts": True,
        "tasks": [{"name": "Vault role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.vault"}}],
    }
]


def run_role(tmp_path, hosts=("vault-a",), extra_vars=None):
    host_vars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "llm_infra_private_address": "127.0.0.1",
    }
    inventory = {"all": {"children": {"vault": {"hosts": {h: dict(host_vars) for h in hosts}}}}}
    extra_vars = dict({"llm_infra_credentials_dir": str(tmp_path / "credentials")}, **(extra_vars or {}))
    result = run_playbook(tmp_path, PLAYBOOK, inventory=inventory, extra_vars=extra_vars)
    return result.returncode, result.stdout + result.stderr


def assert_failed_in_preflight(rc, output, variable, tmp_path):
    assert rc != 0, output
    failed = [line for line in output.splitlines() if line.startswith("TASK [")]
    assert failed, output
    assert "Check" in failed[-1], "the last task run was not a preflight check: %s" % failed[-1]
    assert variable in output, "the failure does not name %s:\n%s" % (variable, output)
    assert not any(line.startswith("changed: [") for line in output.splitlines()), output
    assert not (tmp_path / "credentials").exists(), "preflight must not create the credentials store"


def test_threshold_larger_than_shares(tmp_path):
    rc, out = run_role(tmp_path, extra_vars={"vault_init_key_shares": 3, "vault_init_key_threshold": 4})
    assert_failed_in_preflight(rc, out, "vault_init_key_threshold", tmp_path)


def test_even_cluster_size(tmp_path):
    rc, out = run_role(tmp_path, hosts=("vault-a", "vault-b"))
    assert_failed_in_preflight(rc, out, "vault_cluster_group", tmp_path)
    assert "2 host(s)" in out


def test_storage_backend_other_than_raft(tmp_path):
    rc, out = run_role(tmp_path, extra_vars={"vault_storage_backend": "file"})
    assert_failed_in_preflight(rc, out, "vault_storage_backend", tmp_path)


@pytest.mark.parametrize("sha", ["", "abc"])
def test_local_install_without_a_checksum(tmp_path, sha):
    rc, out = run_role(tmp_path, extra_vars={"vault_install_method": "local", "vault_local_binary": "/bin/true", "vault_local_binary_sha256": sha})
    assert_failed_in_preflight(rc, out, "vault_local_binary_sha256", tmp_path)


# A well-formed digest, so that preflight gets past the release checks to the one under test.
PINNED = {"vault_release_sha256": {"amd64": "0" * 64, "arm64": "0" * 64}}


def test_listener_san_refused_by_its_pki_role(tmp_path):
    rc, out = run_role(tmp_path, extra_vars=dict(PINNED, vault_tls_extra_sans=["vault.example.com"]))
    assert_failed_in_preflight(rc, out, "vault_tls_extra_sans", tmp_path)
    assert "vault.example.com" in out


def test_listener_pki_role_missing(tmp_path):
    rc, out = run_role(tmp_path, extra_vars=dict(PINNED, vault_tls_pki_role="nosuchrole"))
    assert_failed_in_preflight(rc, out, "vault_tls_pki_role", tmp_path)


def test_release_without_a_pinned_checksum(tmp_path):
    # OpenBao's digests are not pinned in vars/main.yml: the default release install must stop, not trust the network.
    rc, out = run_role(tmp_path, extra_vars={"vault_install_method": "release"})
    assert_failed_in_preflight(rc, out, "vault_release_sha256", tmp_path)
    assert "checksums.txt" in out


def test_release_with_a_malformed_checksum(tmp_path):
    rc, out = run_role(tmp_path, extra_vars={"vault_install_method": "release", "vault_release_sha256": {"amd64": "abc", "arm64": "abc"}})
    assert_failed_in_preflight(rc, out, "vault_release_sha256", tmp_path)


@pytest.mark.parametrize("cidrs", [["controller"], ["10.0.0.1/33"], ["10.0.0.0/8\nallow all"]])
def test_automation_bound_to_something_that_is_not_a_network(tmp_path, cidrs):
    rc, out = run_role(tmp_path, extra_vars=dict(PINNED, vault_automation_bound_cidrs=cidrs))
    assert_failed_in_preflight(rc, out, "vault_automation_bound_cidrs", tmp_path)


def test_server_role_extra_address_that_is_not_one(tmp_path):
    rc, out = run_role(tmp_path, extra_vars=dict(PINNED, vault_pki_server_extra_addresses=["gateway.example"]))
    assert_failed_in_preflight(rc, out, "vault_pki_server_extra_addresses", tmp_path)


def test_automation_named_for_an_unknown_pki_role(tmp_path):
    rc, out = run_role(tmp_path, extra_vars=dict(PINNED, vault_automation_pki_roles=["server", "client"]))
    assert_failed_in_preflight(rc, out, "vault_automation_pki_roles", tmp_path)


def test_a_service_named_like_the_automation(tmp_path):
    rc, out = run_role(tmp_path, extra_vars=dict(PINNED, vault_services=[{"name": "llm-infra-automation"}]))
    assert_failed_in_preflight(rc, out, "vault_automation_approle", tmp_path)


@pytest.mark.parametrize("ttl, renew", [("0", "1h"), ("24h", "24h"), ("30 days", "1h")])
def test_secret_id_lifetime(tmp_path, ttl, renew):
    rc, out = run_role(tmp_path, extra_vars=dict(PINNED, vault_automation_secret_id_ttl=ttl,
                                                 vault_automation_secret_id_renew_before=renew))
    assert_failed_in_preflight(rc, out, "vault_automation_secret_id_renew_before", tmp_path)


ARMORED = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF...\n-----END PGP PUBLIC KEY BLOCK-----"
# The start of a real base64 public key (old-format packet header 0x99): the shape, not a usable key.
BASE64_KEY = "mQENBFzQ" + "A" * 60


@pytest.mark.parametrize("keys", [[ARMORED], ["not a key"], [BASE64_KEY] * 2])
def test_custodian_keys_that_are_not_one_base64_key_per_share(tmp_path, keys):
    rc, out = run_role(tmp_path, extra_vars=dict(PINNED, vault_init_key_shares=1, vault_init_key_threshold=1,
                                                 vault_init_pgp_keys=keys))
    assert_failed_in_preflight(rc, out, "vault_init_pgp_keys", tmp_path)


def test_init_password_beside_the_init_file_outside_a_sandbox(tmp_path):
    rc, out = run_role(tmp_path, extra_vars=dict(PINNED, vault_init_password_file=str(tmp_path / "credentials" / "vault-init.pass")))
    assert_failed_in_preflight(rc, out, "vault_init_password_file", tmp_path)
    assert "vault_init_password_file_beside_init" in out


@pytest.mark.parametrize(
    "extra",
    [
        {"vault_snapshot_targets": ["tape"]},
        {"vault_snapshot_targets": []},
        {"vault_snapshot_retention_local": 0},
        {"vault_snapshot_approle": "llm-infra-automation"},
    ],
    ids=["unknown-target", "no-target", "zero-retention", "named-like-the-automation"],
)
def test_snapshot_settings(tmp_path, extra):
    rc, out = run_role(tmp_path, extra_vars=dict({"vault_snapshot_enabled": True}, **extra))
    assert_failed_in_preflight(rc, out, "vault_snapshot_targets", tmp_path)


def test_snapshot_bucket_without_a_storage_group(tmp_path):
    rc, out = run_role(tmp_path, extra_vars={"vault_snapshot_enabled": True, "vault_snapshot_targets": ["s3"]})
    assert_failed_in_preflight(rc, out, "vault_snapshot_s3_url", tmp_path)


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
    host_vars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "llm_infra_private_address": "127.0.0.1",
    }
    inventory = {"all": {"children": {"vault": {"hosts": {"vault-a": host_vars}}}}}
    extra_vars = dict({"llm_infra_credentials_dir": str(tmp_path / "credentials")}, **extra)
    result = run_playbook(tmp_path, RESTORE_PLAYBOOK, inventory=inventory, extra_vars=extra_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert needle in output, output
    assert "Nothing was changed" in output or "Check" in output, output
    assert not any(line.startswith("changed: [") for line in output.splitlines()), output
    assert not (tmp_path / "credentials").exists(), output

"""Bad input to the minio role fails in preflight, before any change, naming the variable.

Every case runs the role against hosts that are all this machine (connection local) in check mode; the
preflight asserts stop the play before the first install task, and check mode is a second safety net.

The cases refused by the checks of a single host, before the preflight's first run_once task, run as one playbook,
one inventory host of group storage per case (see playbook_runner.run_cases). The others run a playbook each: the
erasure-coding check weighs the drives of the whole group, and it and the bucket check run once for all hosts, so
the inventory of such a case is the case itself.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from playbook_runner import assert_case_fails_naming, run_cases, run_playbook

FIRST_CHANGE = "Create the service group"

MINIO_PLAY = [
    {
        "name": "Apply the minio role with bad input",
        "hosts": "storage",
        "gather_facts": True,
        "tasks": [{"name": "Apply the role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.minio"}}],
    }
]


def run_role(tmp_path: Path, hosts: dict, extra: dict | None = None) -> subprocess.CompletedProcess:
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "llm_infra_private_address": "127.0.0.1", **(extra or {})},
            "children": {"storage": {"hosts": hosts}},
        }
    }
    return run_playbook(tmp_path, MINIO_PLAY, inventory=inventory)


def check_failed(result: subprocess.CompletedProcess, *fragments: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} missing from the output:\n{output}"
    assert FIRST_CHANGE not in output, output


def drives(count: int, base: str = "/mnt/minio-test") -> list:
    return [f"{base}/disk{i}" for i in range(1, count + 1)]


def test_uneven_drive_counts_cannot_be_erasure_coded(tmp_path: Path) -> None:
    hosts = {
        "store-a": {"minio_drives": drives(2), "minio_allow_root_fs_drives": True},
        "store-b": {"minio_drives": drives(1), "minio_allow_root_fs_drives": True},
    }
    check_failed(run_role(tmp_path, hosts), "minio_drives: MinIO cannot erasure-code", '"store-b": 1')


def test_drive_total_without_an_erasure_set_size_is_refused(tmp_path: Path) -> None:
    # 17 drives: no set size of 2-16 divides them.
    hosts = {"store-a": {"minio_drives": drives(17), "minio_allow_root_fs_drives": True}}
    check_failed(run_role(tmp_path, hosts), "minio_drives: MinIO cannot erasure-code", "total (17)")


def test_seventeen_single_drive_hosts_are_refused(tmp_path: Path) -> None:
    # One set of 17 drives is too large and 17 hosts cannot share smaller sets evenly.
    hosts = {f"store-{i}": {"minio_drives": drives(1), "minio_allow_root_fs_drives": True} for i in range(17)}
    check_failed(run_role(tmp_path, hosts), "minio_drives: MinIO cannot erasure-code", "total (17)")


@pytest.mark.skipif(os.stat("/").st_dev != os.stat("/var/lib").st_dev,
                    reason="/var/lib is not on the root filesystem here")
def test_drives_on_the_root_filesystem_need_the_test_flag(tmp_path: Path) -> None:
    hosts = {"store-a": {"minio_drives": ["/var/lib/minio-test/disk1", "/var/lib/minio-test/disk2"]}}
    check_failed(run_role(tmp_path, hosts), "minio_drives", "/var/lib/minio-test/disk1", "minio_allow_root_fs_drives")


GOOD_DRIVES = {"minio_drives": drives(2), "minio_allow_root_fs_drives": True}
# Each case fails in a check of its own host before the first run_once task: the hosts of the other cases in the
# group do not change its outcome.
SINGLE_HOST_CASES = {
    "missing-drives": {},
    "relative-drive-path": {"minio_drives": ["data/disk1"], "minio_allow_root_fs_drives": True},
    "unknown-install-method": {**GOOD_DRIVES, "minio_install_method": "package"},
    # No digest is read from the upstream .sha256sum file: the binary method needs minio_binary_sha256.
    "release-binary-without-a-digest": {**GOOD_DRIVES, "minio_install_method": "binary",
                                        "minio_client_install_method": "none"},
}


@pytest.fixture(scope="module")
def single_host_runs(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("minio"), MINIO_PLAY, SINGLE_HOST_CASES, group="storage",
                     host_vars={"llm_infra_private_address": "127.0.0.1"})


def test_missing_drives_are_refused(single_host_runs) -> None:
    # The message names the host, here the case's own.
    assert_case_fails_naming(single_host_runs["missing-drives"], "minio_drives of missing-drives must list one or more",
                             not_reached=(FIRST_CHANGE,))


def test_relative_drive_path_is_refused(single_host_runs) -> None:
    assert_case_fails_naming(single_host_runs["relative-drive-path"], "minio_drives of relative-drive-path",
                             "data/disk1", not_reached=(FIRST_CHANGE,))


def test_bucket_name_s3_rejects(tmp_path: Path) -> None:
    hosts = {"store-a": {"minio_drives": drives(2), "minio_allow_root_fs_drives": True}}
    result = run_role(tmp_path, hosts, {"minio_buckets": [{"name": "ok-bucket"}, {"name": "Model_Store"}]})
    check_failed(result, "minio_buckets: Model_Store not valid S3 bucket")


def test_bucket_name_shaped_like_an_ip_address(tmp_path: Path) -> None:
    hosts = {"store-a": {"minio_drives": drives(2), "minio_allow_root_fs_drives": True}}
    check_failed(run_role(tmp_path, hosts, {"minio_buckets": [{"name": "10.0.0.1"}]}), "minio_buckets: 10.0.0.1")


def test_unknown_install_method(single_host_runs) -> None:
    assert_case_fails_naming(single_host_runs["unknown-install-method"], "minio_install_method",
                             not_reached=(FIRST_CHANGE,))


def test_release_binary_without_a_digest(single_host_runs) -> None:
    assert_case_fails_naming(single_host_runs["release-binary-without-a-digest"], "set minio_binary_sha256",
                             not_reached=(FIRST_CHANGE,))

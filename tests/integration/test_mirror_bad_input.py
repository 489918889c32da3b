"""Bad input to the mirror role fails in its preflight, before any change, and names the variable at fault.

Like the other *_bad_input tests: a tiny play applies llm_infra.cluster.mirror to localhost in --check mode. The
host's distribution facts are set by a task first, so that the cases do not depend on the machine that runs them.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from playbook_runner import assert_fails_naming as shared_assert_fails_naming
from playbook_runner import run_playbook

FACTS = {"distribution": "Debian", "distribution_release": "bookworm", "distribution_major_version": "12", "os_family": "Debian"}


def make_bundle(root, codename="bookworm", manifest=None):
    (root / "keys").mkdir(parents=True)
    (root / "keys" / "llm-infra-mirror.asc").write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    (root / "debian" / codename).mkdir(parents=True)
    (root / "debian" / codename / "InRelease").write_text("-----BEGIN PGP SIGNED MESSAGE-----\n")
    (root / "manifest.json").write_text(json.dumps(manifest if manifest is not None else {"version": 1, "created": "now", "files": []}))
    return root


def mirror_play(tmp_path, play_vars: dict, facts: dict | None = None) -> list:
    base_vars = {
        "llm_infra_private_address": "10.0.0.10",
        "llm_infra_mirror_url": "https://mirror-1.internal:8443",
        "llm_infra_credentials_dir": str(tmp_path / "credentials"),
        "mirror_cache_dir": str(tmp_path / "cache"),
        "mirror_root": str(tmp_path / "host" / "srv" / "llm-infra-mirror"),
    }
    return [
        {
            "name": "Apply mirror with bad input",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {**base_vars, **play_vars},
            "tasks": [
                {"name": "Take the test facts", "ansible.builtin.set_fact": {"ansible_facts": facts or FACTS}},
                {"name": "Apply mirror", "ansible.builtin.include_role": {"name": "llm_infra.cluster.mirror"}},
            ],
        }
    ]


def assert_fails_naming(result: subprocess.CompletedProcess, *needles: str) -> None:
    # Failed in the preflight: nothing of the bundle, apt or nginx ran.
    shared_assert_fails_naming(result, *needles, not_reached=('Install the bundle checker', 'Install nginx'))


@pytest.mark.parametrize(
    ("play_vars", "needles"),
    [
        pytest.param({"mirror_port": 70000}, ["mirror_port (70000) 1-65535"], id="port-out-of-range"),
        pytest.param({"mirror_port": 0}, ["mirror_port (0) 1-65535"], id="port-zero"),
        pytest.param({"mirror_listen_address": "mirror-1.internal"}, ["mirror_listen_address 'mirror-1.internal'"], id="listen-not-an-address"),
        pytest.param({"mirror_root": "srv/mirror"}, ["mirror_root ('srv/mirror')"], id="relative-root"),
        pytest.param({"mirror_root": "/"}, ["mirror_root ('/')"], id="root-is-slash"),
        pytest.param({"llm_infra_mirror_url": ""}, ["llm_infra_mirror_url ('')"], id="no-url"),
        pytest.param({"llm_infra_mirror_url": "http://mirror-1.internal:8443"}, ["llm_infra_mirror_url ('http://mirror-1.internal:8443')"], id="plain-http"),
        pytest.param({"mirror_allow_cidrs": ["10.0.0.0/8", "10.0.0.0/33"]}, ["mirror_allow_cidrs", "10.0.0.0/33"], id="bad-cidr"),
        pytest.param({"mirror_extra_sans": ["mirror one"]}, ["mirror_extra_sans", "mirror one"], id="bad-san"),
    ],
)
def test_bad_variable(tmp_path, play_vars, needles):
    play_vars = {"mirror_bundle_dir": str(make_bundle(tmp_path / "bundle")), **play_vars}
    result = run_playbook(tmp_path, mirror_play(tmp_path, play_vars))
    assert_fails_naming(result, *needles)


@pytest.mark.parametrize(
    "missing",
    [
        pytest.param("manifest.json", id="manifest"),
        pytest.param("keys/llm-infra-mirror.asc", id="key"),
        pytest.param("debian/bookworm/InRelease", id="repository-of-the-codename"),
    ],
)
def test_controller_bundle_lacks_a_file(tmp_path, missing):
    bundle = make_bundle(tmp_path / "bundle")
    (bundle / missing).unlink()
    result = run_playbook(tmp_path, mirror_play(tmp_path, {"mirror_bundle_dir": str(bundle)}))
    assert_fails_naming(result, f"mirror_bundle_dir ({bundle}) has no {missing}")


def test_controller_bundle_for_another_codename(tmp_path):
    """A bundle built for bookworm only does not serve a trixie mirror host."""
    bundle = make_bundle(tmp_path / "bundle", codename="bookworm")
    facts = {**FACTS, "distribution_release": "trixie", "distribution_major_version": "13"}
    result = run_playbook(tmp_path, mirror_play(tmp_path, {"mirror_bundle_dir": str(bundle)}, facts=facts))
    assert_fails_naming(result, f"mirror_bundle_dir ({bundle}) has no debian/trixie/InRelease", "bundle_distributions")


def test_controller_manifest_of_another_version(tmp_path):
    bundle = make_bundle(tmp_path / "bundle", manifest={"version": 2, "files": []})
    result = run_playbook(tmp_path, mirror_play(tmp_path, {"mirror_bundle_dir": str(bundle)}))
    assert_fails_naming(result, f"mirror_bundle_dir ({bundle}): manifest.json is not a version 1 manifest")


def test_mirror_root_is_a_real_folder(tmp_path):
    """With a controller bundle mirror_root is the role's symlink: a folder there is a bundle carried in."""
    root = tmp_path / "host" / "srv" / "llm-infra-mirror"
    root.mkdir(parents=True)
    result = run_playbook(tmp_path, mirror_play(tmp_path, {"mirror_bundle_dir": str(make_bundle(tmp_path / "bundle"))}))
    assert_fails_naming(result, f"mirror_root ({root}) on localhost is a real folder", 'mirror_bundle_dir to ""')


def test_carried_in_bundle_lacks_files(tmp_path):
    root = tmp_path / "host" / "srv" / "llm-infra-mirror"
    make_bundle(root)
    (root / "debian" / "bookworm" / "InRelease").unlink()
    (root / "keys" / "llm-infra-mirror.asc").unlink()
    result = run_playbook(tmp_path, mirror_play(tmp_path, {"mirror_bundle_dir": ""}))
    assert_fails_naming(result, f"at mirror_root ({root}), but it lacks keys/llm-infra-mirror.asc, debian/bookworm/InRelease")


def test_ubuntu_host_is_refused(tmp_path):
    facts = {"distribution": "Ubuntu", "distribution_release": "noble", "distribution_major_version": "24", "os_family": "Debian"}
    result = run_playbook(tmp_path, mirror_play(tmp_path, {"mirror_bundle_dir": str(make_bundle(tmp_path / "bundle"))}, facts=facts))
    assert_fails_naming(result, "serves from Debian", "Ubuntu noble")

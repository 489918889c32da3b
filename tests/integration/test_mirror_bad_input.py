"""Bad input to the mirror role fails in its preflight, before any change, and names the variable at fault.

Every case runs in one playbook in --check mode, one inventory host with a local connection per case (see
playbook_runner.run_cases): the preflight asserts come first, and check mode is a second safety net because these
tests run on the CI machine itself. Each case has a folder of its own for its controller bundle, its mirror_root and
the role's controller folders, and its host's distribution facts are set by a task first, so that the cases do not
depend on the machine that runs them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playbook_runner import assert_case_fails_naming, run_cases

FACTS = {"distribution": "Debian", "distribution_release": "bookworm", "distribution_major_version": "12",
         "os_family": "Debian"}

# Failed in the preflight: nothing of the bundle, apt or nginx ran.
NOT_REACHED = ("Create the folders of the bundle checker", "Install the bundle checker", "Install nginx")

MIRROR_PLAY = [
    {
        "name": "Apply mirror with bad input",
        "hosts": "cases",
        "gather_facts": False,
        # A case's variables outrank these.
        "vars": {
            "llm_infra_private_address": "10.0.0.10",
            "llm_infra_mirror_url": "https://mirror-1.internal:8443",
            "test_facts": FACTS,
        },
        "tasks": [
            {"name": "Take the test facts", "ansible.builtin.set_fact": {"ansible_facts": "{{ test_facts }}"}},
            {"name": "Apply mirror", "ansible.builtin.include_role": {"name": "llm_infra.cluster.mirror"}},
        ],
    }
]

# Bad variables, with a good bundle on the controller.
VARIABLE_CASES = {
    "port-out-of-range": ({"mirror_port": 70000}, ["mirror_port (70000) 1-65535"]),
    "port-zero": ({"mirror_port": 0}, ["mirror_port (0) 1-65535"]),
    "listen-not-an-address": ({"mirror_listen_address": "mirror-1.internal"},
                              ["mirror_listen_address 'mirror-1.internal'"]),
    "relative-root": ({"mirror_root": "srv/mirror"}, ["mirror_root ('srv/mirror')"]),
    "root-is-slash": ({"mirror_root": "/"}, ["mirror_root ('/')"]),
    "no-url": ({"llm_infra_mirror_url": ""}, ["llm_infra_mirror_url ('')"]),
    "plain-http": ({"llm_infra_mirror_url": "http://mirror-1.internal:8443"},
                   ["llm_infra_mirror_url ('http://mirror-1.internal:8443')"]),
    "bad-cidr": ({"mirror_allow_cidrs": ["10.0.0.0/8", "10.0.0.0/33"]}, ["mirror_allow_cidrs", "10.0.0.0/33"]),
    "bad-san": ({"mirror_extra_sans": ["mirror one"]}, ["mirror_extra_sans", "mirror one"]),
}

# The file a controller bundle lacks, per case.
MISSING_FILE_CASES = {
    "manifest": "manifest.json",
    "key": "keys/llm-infra-mirror.asc",
    "repository-of-the-codename": "debian/bookworm/InRelease",
}


def make_bundle(root: Path, codename: str = "bookworm", manifest: dict | None = None) -> Path:
    (root / "keys").mkdir(parents=True)
    (root / "keys" / "llm-infra-mirror.asc").write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    (root / "debian" / codename).mkdir(parents=True)
    (root / "debian" / codename / "InRelease").write_text("-----BEGIN PGP SIGNED MESSAGE-----\n")
    manifest = manifest if manifest is not None else {"version": 1, "created": "now", "files": []}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def bundle_of(case_dir: Path) -> Path:
    """The case's bundle on the controller."""
    return case_dir / "bundle"


def root_of(case_dir: Path) -> Path:
    """The case's mirror_root on the host."""
    return case_dir / "host" / "srv" / "llm-infra-mirror"


def case_vars(case_dir: Path, **overrides) -> dict:
    return {
        "llm_infra_credentials_dir": str(case_dir / "credentials"),
        "mirror_cache_dir": str(case_dir / "cache"),
        "mirror_root": str(root_of(case_dir)),
        "mirror_bundle_dir": str(bundle_of(case_dir)),
        **overrides,
    }


@pytest.fixture(scope="module")
def mirror_dir(tmp_path_factory) -> Path:
    """The folder of every case's own folder, named as the case."""
    return tmp_path_factory.mktemp("mirror")


@pytest.fixture(scope="module")
def mirror_runs(tmp_path_factory, mirror_dir):
    cases = {}
    for case, (overrides, _needles) in VARIABLE_CASES.items():
        make_bundle(bundle_of(mirror_dir / case))
        cases[case] = case_vars(mirror_dir / case, **overrides)
    for case, missing in MISSING_FILE_CASES.items():
        (make_bundle(bundle_of(mirror_dir / case)) / missing).unlink()
        cases[case] = case_vars(mirror_dir / case)

    # A bundle built for bookworm only, on a trixie host.
    make_bundle(bundle_of(mirror_dir / "another-codename"), codename="bookworm")
    trixie = {**FACTS, "distribution_release": "trixie", "distribution_major_version": "13"}
    cases["another-codename"] = case_vars(mirror_dir / "another-codename", test_facts=trixie)

    make_bundle(bundle_of(mirror_dir / "manifest-of-another-version"), manifest={"version": 2, "files": []})
    cases["manifest-of-another-version"] = case_vars(mirror_dir / "manifest-of-another-version")

    # A real folder where the role's symlink goes.
    make_bundle(bundle_of(mirror_dir / "root-is-a-real-folder"))
    root_of(mirror_dir / "root-is-a-real-folder").mkdir(parents=True)
    cases["root-is-a-real-folder"] = case_vars(mirror_dir / "root-is-a-real-folder")

    # A bundle carried in at mirror_root, without two of its files.
    carried = make_bundle(root_of(mirror_dir / "carried-in-bundle-lacks-files"))
    (carried / "debian" / "bookworm" / "InRelease").unlink()
    (carried / "keys" / "llm-infra-mirror.asc").unlink()
    cases["carried-in-bundle-lacks-files"] = case_vars(mirror_dir / "carried-in-bundle-lacks-files",
                                                       mirror_bundle_dir="")

    make_bundle(bundle_of(mirror_dir / "ubuntu-host"))
    ubuntu = {"distribution": "Ubuntu", "distribution_release": "noble", "distribution_major_version": "24",
              "os_family": "Debian"}
    cases["ubuntu-host"] = case_vars(mirror_dir / "ubuntu-host", test_facts=ubuntu)

    return run_cases(tmp_path_factory.mktemp("mirror-run"), MIRROR_PLAY, cases)


@pytest.mark.parametrize("case", VARIABLE_CASES)
def test_bad_variable(mirror_runs, case):
    assert_case_fails_naming(mirror_runs[case], *VARIABLE_CASES[case][1], not_reached=NOT_REACHED)


@pytest.mark.parametrize("missing", MISSING_FILE_CASES)
def test_controller_bundle_lacks_a_file(mirror_dir, mirror_runs, missing):
    bundle = bundle_of(mirror_dir / missing)
    assert_case_fails_naming(mirror_runs[missing],
                             f"mirror_bundle_dir ({bundle}) has no {MISSING_FILE_CASES[missing]}",
                             not_reached=NOT_REACHED)


def test_controller_bundle_for_another_codename(mirror_dir, mirror_runs):
    """A bundle built for bookworm only does not serve a trixie mirror host."""
    bundle = bundle_of(mirror_dir / "another-codename")
    assert_case_fails_naming(mirror_runs["another-codename"],
                             f"mirror_bundle_dir ({bundle}) has no debian/trixie/InRelease", "bundle_distributions",
                             not_reached=NOT_REACHED)


def test_controller_manifest_of_another_version(mirror_dir, mirror_runs):
    bundle = bundle_of(mirror_dir / "manifest-of-another-version")
    assert_case_fails_naming(mirror_runs["manifest-of-another-version"],
                             f"mirror_bundle_dir ({bundle}): manifest.json is not a version 1 manifest",
                             not_reached=NOT_REACHED)


def test_mirror_root_is_a_real_folder(mirror_dir, mirror_runs):
    """With a controller bundle mirror_root is the role's symlink: a folder there is a bundle carried in."""
    root = root_of(mirror_dir / "root-is-a-real-folder")
    # The message names the host, here the case's own.
    assert_case_fails_naming(mirror_runs["root-is-a-real-folder"],
                             f"mirror_root ({root}) on root-is-a-real-folder is a real folder",
                             'mirror_bundle_dir to ""', not_reached=NOT_REACHED)


def test_carried_in_bundle_lacks_files(mirror_dir, mirror_runs):
    root = root_of(mirror_dir / "carried-in-bundle-lacks-files")
    lacks = "keys/llm-infra-mirror.asc, debian/bookworm/InRelease"
    assert_case_fails_naming(mirror_runs["carried-in-bundle-lacks-files"],
                             f"at mirror_root ({root}), but it lacks {lacks}", not_reached=NOT_REACHED)


def test_ubuntu_host_is_refused(mirror_runs):
    assert_case_fails_naming(mirror_runs["ubuntu-host"], "serves from Debian", "Ubuntu noble", not_reached=NOT_REACHED)

"""ansible-galaxy builds the collection, and the tarball holds the collection and nothing a checkout accumulates.

The build runs on a copy of the checkout (the files git tracks or would add) into which the test plants what must
never ship: inventory credentials and SSH state, caches, test output, build artifacts, editor files and the
virtual environment, so a broken exclusion in galaxy.yml's manifest fails here.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

PLANTED = [
    "inventories/sandbox/credentials/vault/init.yml",
    "inventories/sandbox/credentials/gateway/api-key-team-a",
    "inventories/example/credentials/postgresql/admin-password",
    "inventories/production/credentials/minio/root.yml",
    "inventories/production/hosts.yml",  # shipped: a new inventory's hosts are content, its credentials are not
    "inventories/production/bundle/debian/bookworm/Release.yml",  # an air-gapped site's bundle (docs/air-gap.md)
    "inventories/sandbox/.state/id_ed25519",
    "inventories/example/.state/known_hosts",
    ".cache/llm-infra/test-artifacts/promtool",
    "roles/llama_cpp/.cache/build.yml",
    "roles/llama_cpp/files/.cache/a/b/c/d/build.yml",
    "plugins/modules/__pycache__/gguf_info.cpython-311.pyc",
    "plugins/filter/haproxy.pyc",
    ".pytest_cache/v/cache/lastfailed",
    "tests/unit/.pytest_cache/README.md",
    "tests/output/junit/sanity.xml",
    "tests/output/.tmp/results.yml",
    "llm_infra-cluster-0.1.0.tar.gz",
    "dist/llm_infra_cluster-0.1.0-py3-none-any.whl",
    "tests/gpu/wheels/gguf-0.19.0-py3-none-any.whl",
    "tests/gpu/assets/llama-cpp-src.tar.gz",
    "tests/gpu/assets/source.env",
    "roles/haproxy/files/cache.tgz",
    "roles/base/tasks/.main.yml.swp",
    "roles/base/tasks/main.yml~",
    "plugins/filter/haproxy.py.orig",
    ".idea/workspace.xml",
    ".vscode/settings.json",
    "roles/base/.vscode/settings.json",
    ".venv/lib/python3.11/site-packages/pkg/__init__.py",
    ".collections/ansible_collections/llm_infra/cluster/galaxy.yml",
    ".ansible/collections/ansible_collections/llm_infra/cluster/galaxy.yml",
    ".git/config",
]
SHIPPED_PLANTS = {"inventories/production/hosts.yml"}
# The content of the collection: every file git tracks below these must be in the tarball.
CONTENT = ("meta/", "plugins/", "roles/", "playbooks/", "inventories/", "docs/", "changelogs/")
CONTENT_FILES = ("README.md", "LICENSE", "requirements.yml")


def _checkout_files():
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=REPO, capture_output=True, check=True).stdout.decode()
    return sorted(p for p in listing.split("\0") if p and os.path.isfile(os.path.join(REPO, p)))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(names in the tarball, MANIFEST.json, the copied checkout's files) of a build of a planted copy."""
    tree = tmp_path_factory.mktemp("tree")
    out = tmp_path_factory.mktemp("out")
    files = _checkout_files()
    for path in files:
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(REPO, path), target)
    for path in PLANTED:
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("planted by test_collection_build\n")
    galaxy = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    build = subprocess.run([galaxy, "collection", "build", "--output-path", str(out), str(tree)],
                           capture_output=True, text=True, env=env, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    tarballs = list(out.glob("*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    with tarfile.open(tarballs[0]) as tar:
        names = {member.name.rstrip("/") for member in tar.getmembers()}
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    return names, manifest, files


def test_nothing_planted_ships_but_a_new_inventory(built):
    names = built[0]
    leaked = sorted(path for path in PLANTED if path in names and path not in SHIPPED_PLANTS)
    assert not leaked, "the tarball carries: %s" % ", ".join(leaked)
    assert SHIPPED_PLANTS <= names


def test_no_secret_cache_or_artifact_under_any_name(built):
    """Beyond the planted names: no credentials or .state folder, dot file, cache, test output or archive at all."""
    bad = []
    for name in sorted(built[0]):
        parts = name.split("/")
        if (any(part in ("credentials", "__pycache__", ".state") or part.startswith(".") for part in parts)
                or name.startswith("tests/output") or name.endswith((".pyc", ".tar.gz", ".tgz", ".whl", ".zip", ".swp", "~"))):
            bad.append(name)
    assert not bad, "the tarball carries: %s" % ", ".join(bad)


def test_every_file_of_the_collection_ships(built):
    names, files = built[0], built[2]
    content = [p for p in files if (p.startswith(CONTENT) or p in CONTENT_FILES)
               and not any(part.startswith(".") for part in p.split("/"))]
    missing = sorted(p for p in content if p not in names)
    assert not missing, "left out of the tarball: %s" % ", ".join(missing)
    # The role scripts without an extension too, which a pattern by extension would lose.
    assert "roles/node_exporter/files/usr/local/libexec/llm-infra-cert-expiry" in names
    assert "CHANGELOG.rst" in names


def test_the_development_harness_stays_out(built):
    names = built[0]
    harness = sorted(n for n in names if n.split("/")[0] in ("molecule", "scripts", "bench", "Makefile", "ansible.cfg", "galaxy.yml"))
    assert not harness, harness


def test_version_is_the_latest_changelog_release(built):
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as handle:
        version = yaml.safe_load(handle)["version"]
    with open(os.path.join(REPO, "changelogs", "changelog.yaml"), encoding="utf-8") as handle:
        releases = list((yaml.safe_load(handle) or {}).get("releases") or {})
    assert built[1]["collection_info"]["version"] == version
    assert releases and version == max(releases, key=lambda v: tuple(int(p) for p in v.split("."))), (version, releases)

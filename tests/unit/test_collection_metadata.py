"""Checks on the collection as a whole: role defaults vs argument specs, dependency lists in sync."""

import glob
import importlib.util
import json
import os
import subprocess
import sys

import pytest
import yaml
from ansible.galaxy.dependency_resolution.versioning import meets_requirements

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROLES = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(REPO, "roles", "*", "meta")))


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def test_every_role_has_the_same_anatomy():
    assert ROLES, "no roles found"
    for role in ROLES:
        for part in ("defaults/main.yml", "meta/main.yml", "meta/argument_specs.yml", "tasks/main.yml", "README.md"):
            assert os.path.isfile(os.path.join(REPO, "roles", role, part)), "roles/%s/%s is missing" % (role, part)


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_argument_specs_agree(role):
    defaults = _load(os.path.join(REPO, "roles", role, "defaults", "main.yml"))
    specs = _load(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml"))["argument_specs"]
    options = specs["main"].get("options", {})
    problems = []
    for name, value in defaults.items():
        if name not in options:
            problems.append("%s is in defaults/main.yml but not in argument_specs main" % name)
        elif "default" not in options[name]:
            problems.append("%s: argument_specs declares no default (defaults/main.yml has %r)" % (name, value))
        elif options[name]["default"] != value:
            problems.append("%s: default differs: defaults/main.yml %r, argument_specs %r" % (name, value, options[name]["default"]))
    for name, spec in options.items():
        if name not in defaults and not spec.get("required", False):
            problems.append("%s is in argument_specs main but has no default in defaults/main.yml and is not required" % name)
    for entry, spec in specs.items():
        for name in spec.get("options", {}):
            if not name.startswith(role + "_") and not name.startswith("llm_infra_"):
                problems.append("%s (entry point %s) does not start with %s_ or llm_infra_" % (name, entry, role))
    assert not problems, "\n".join(problems)


def test_galaxy_dependencies_match_requirements_yml():
    galaxy = _load(os.path.join(REPO, "galaxy.yml"))["dependencies"]
    requirements = {c["name"]: c["version"] for c in _load(os.path.join(REPO, "requirements.yml"))["collections"]}
    assert galaxy == requirements


def test_installed_collections_satisfy_the_declared_ranges():
    """The pinned `ansible` bundle must carry versions inside galaxy.yml's ranges."""
    for name, spec in _load(os.path.join(REPO, "galaxy.yml"))["dependencies"].items():
        namespace, coll = name.split(".")
        found = importlib.util.find_spec("ansible_collections.%s.%s" % (namespace, coll))
        assert found is not None, "collection %s is not installed" % name
        manifest = os.path.join(list(found.submodule_search_locations)[0], "MANIFEST.json")
        with open(manifest, encoding="utf-8") as handle:
            version = json.load(handle)["collection_info"]["version"]
        assert meets_requirements(version, spec), "%s %s is outside %s" % (name, version, spec)


@pytest.mark.parametrize("inventory", ["sandbox", "example"])
def test_site_playbook_parses_against_each_shipped_inventory(inventory):
    """Every shipped inventory loads (group_vars included) and site.yml with its imports parses against it."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    bin_dir = os.path.dirname(sys.executable)
    path = os.path.join(REPO, "inventories", inventory)
    graph = subprocess.run([os.path.join(bin_dir, "ansible-inventory"), "-i", path, "--graph", "--vars"],
                           capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert graph.returncode == 0, graph.stderr
    for group in ("vault", "storage", "serving", "gateway", "monitoring"):
        assert "@%s:" % group in graph.stdout, "%s inventory has no %s group:\n%s" % (inventory, group, graph.stdout)
    check = subprocess.run([os.path.join(bin_dir, "ansible-playbook"), "-i", path, "--syntax-check",
                            os.path.join(REPO, "playbooks", "site.yml")],
                           capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert check.returncode == 0, check.stdout + check.stderr

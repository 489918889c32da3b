"""Every Debian package a role installs reaches the air-gapped bundle: playbooks/bundle.yml names each package
variable (or literal package) of every role's apt tasks, so a role that starts installing a new package without it
fails here rather than on an air-gapped site."""

from __future__ import annotations

import glob
import os
import re

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUNDLE = os.path.join(REPO, "playbooks", "bundle.yml")
# Installed from a vendor's apt repository, which the bundle does not carry (docs/air-gap.md, "Not in the bundle
# yet"); bundle.yml refuses an inventory that enables them.
VENDOR_ROLES = {"grafana", "alloy"}
# The NVIDIA driver's package names are computed from its package set, version and the host's kernel; bundle.yml
# reads the same set (__nvidia_driver_package_set) and the headers from bundle_kernel_headers.
COMPUTED = {"__nvidia_driver_versioned_packages", "__nvidia_driver_fabric_manager_packages", "__nvidia_driver_kernel",
            "nvidia_driver_extra_packages", "__nvidia_driver_package_set"}
VARIABLE = re.compile(r"\b(__)?[a-z][a-z0-9_]*_packages?\b|\b__nvidia_driver_kernel\b")


def apt_names():
    """(role, file, name expression) of every apt or package task that installs something."""
    found = []
    for path in sorted(glob.glob(os.path.join(REPO, "roles", "*", "tasks", "*.yml"))):
        role = path.split(os.sep)[-3]
        with open(path, encoding="utf-8") as handle:
            tasks = yaml.safe_load(handle) or []

        def walk(items):
            for task in items or []:
                if not isinstance(task, dict):
                    continue
                for key in ("block", "rescue", "always"):
                    walk(task.get(key))
                for module in ("ansible.builtin.apt", "ansible.builtin.package"):
                    args = task.get(module)
                    if isinstance(args, dict) and args.get("name"):
                        found.append((role, os.path.basename(path), args["name"]))
        walk(tasks)
    return found


def test_the_walk_finds_the_roles_package_tasks():
    roles = {role for role, _file, _name in apt_names()}
    assert {"base", "haproxy", "postgresql", "llama_cpp", "vllm", "prometheus", "mirror", "vault"} <= roles


def test_bundle_names_every_package_the_roles_install():
    with open(BUNDLE, encoding="utf-8") as handle:
        bundle = handle.read()
    missing = []
    for role, file_name, name in apt_names():
        if role in VENDOR_ROLES:
            continue
        names = name if isinstance(name, list) else [name]
        for entry in names:
            entry = str(entry)
            variables = [match.group(0) for match in VARIABLE.finditer(entry)]
            if "{{" in entry:
                for variable in variables:
                    if variable not in COMPUTED and variable not in bundle:
                        missing.append("%s/%s: %s" % (role, file_name, variable))
            elif not re.search(r"['\[ ]%s['\], ]" % re.escape(entry), bundle):
                missing.append("%s/%s: package %s" % (role, file_name, entry))
    assert not missing, "playbooks/bundle.yml does not collect:\n" + "\n".join(missing)

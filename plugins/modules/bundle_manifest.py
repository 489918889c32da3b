# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: the manifest (and the Python package index) of an air-gapped site's bundle, or its verification."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bundle_manifest
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.6.0
short_description: Write or verify the manifest of a bundle for an air-gapped site
description:
  - A bundle (docs/air-gap.md, made by C(playbooks/bundle.yml)) is one folder with a channel per top folder,
    C(debian/<codename>/) (signed flat apt repositories), C(artifacts/<name>/<version>/<arch>/) (the roles' pinned
    downloads, laid out as the controller cache), C(python/) (wheels under C(files/), a PEP 503 index under
    C(simple/)), C(models/) and C(keys/).
  - With O(state=present) the module writes the Python index pages for C(python/files/) (links with their sha256)
    and then C(manifest.json), every file with its sha256, size, channel and the roles that use it (O(uses)), and
    the totals per channel. A file whose size and modification time match the previous manifest is not hashed
    again. Files are written only when their content changed.
  - With O(state=verified) nothing is written; the module fails when a listed file is missing or has another
    sha256, or when a file is not listed, naming each one.
options:
  path:
    description: Root folder of the bundle.
    type: path
    required: true
  state:
    description: C(present) writes the index and the manifest; C(verified) checks the folder against its manifest.
    type: str
    choices: [present, verified]
    default: present
  uses:
    description:
      - Which roles use which part of the bundle, for the manifest's C(used_by); each entry has C(prefix) (a path
        relative to the root) and C(used_by) (a list of names).
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    support: full
    description: Reports whether the manifest or the index would change; writes nothing.
"""

EXAMPLES = r"""
- name: Write the bundle's manifest
  llm_infra.cluster.bundle_manifest:
    path: /srv/bundle
    uses:
      - {prefix: debian/bookworm, used_by: [base, haproxy, postgresql]}
      - {prefix: artifacts/openbao, used_by: [vault]}
  delegate_to: localhost

- name: Check a bundle carried into the site before serving it
  llm_infra.cluster.bundle_manifest:
    path: /srv/llm-infra-mirror/incoming
    state: verified
"""

RETURN = r"""
files:
  description: Number of files in the manifest.
  returned: always
  type: int
bytes:
  description: Total size of the files in the manifest.
  returned: always
  type: int
totals:
  description: Files and bytes per channel.
  returned: when O(state=present)
  type: dict
sha256:
  description: sha256 of C(manifest.json) as written (or as it would be written in check mode).
  returned: always
  type: str
problems:
  description: What does not match the manifest (O(state=verified)).
  returned: when O(state=verified)
  type: list
  elements: str
"""

import hashlib  # noqa: E402  pylint: disable=wrong-import-position
import json  # noqa: E402  pylint: disable=wrong-import-position
import os  # noqa: E402  pylint: disable=wrong-import-position

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.llm_infra.cluster.plugins.module_utils import _bundle  # noqa: E402  pylint: disable=wrong-import-position


def _write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _read(path: str):
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "verified"], "default": "present"},
            "uses": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    root = module.params["path"]
    manifest_path = os.path.join(root, _bundle.MANIFEST)
    if not os.path.isdir(root):
        module.fail_json(msg="bundle %s: no such folder" % root)

    if module.params["state"] == "verified":
        raw = _read(manifest_path)
        if raw is None:
            module.fail_json(msg="bundle %s has no %s" % (root, _bundle.MANIFEST))
        try:
            manifest = json.loads(raw)
        except ValueError as exc:
            module.fail_json(msg="bundle %s: %s is not JSON: %s" % (root, _bundle.MANIFEST, exc))
        problems = _bundle.verify(root, manifest)
        result = {"changed": False, "files": len(manifest.get("files", [])), "problems": problems,
                  "bytes": sum(entry.get("size", 0) for entry in manifest.get("files", [])),
                  "sha256": hashlib.sha256(raw).hexdigest()}
        if problems:
            module.fail_json(msg="bundle %s does not match its manifest: %s" % (root, "; ".join(problems[:20])), **result)
        module.exit_json(**result)

    changed = False
    try:
        pages = _bundle.simple_index(os.path.join(root, "python", "files"))
        if len(pages) > 1:
            for relative, content in sorted(pages.items()):
                target = os.path.join(root, "python", "simple", relative)
                if _read(target) != content.encode():
                    changed = True
                    if not module.check_mode:
                        _write(target, content.encode())
        previous_raw = _read(manifest_path)
        previous = json.loads(previous_raw) if previous_raw else None
        manifest = _bundle.build_manifest(root, module.params["uses"], previous)
    except (_bundle.BundleError, OSError, ValueError) as exc:
        module.fail_json(msg="bundle %s: %s" % (root, exc))
    data = _bundle.manifest_bytes(manifest)
    if data != previous_raw:
        changed = True
        if not module.check_mode:
            _write(manifest_path, data)
    module.exit_json(changed=changed, files=len(manifest["files"]), totals=manifest["totals"],
                     bytes=sum(entry["size"] for entry in manifest["files"]), sha256=hashlib.sha256(data).hexdigest())


if __name__ == "__main__":
    main()

# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: a signed flat apt repository of a package set and its whole dependency closure, for one distribution."""

from __future__ import annotations

DOCUMENTATION = r"""
module: apt_bundle
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.6.0
short_description: Build a signed flat apt repository of packages and their dependencies for an air-gapped site
description:
  - Runs on a connected machine with C(apt-get) and C(gpg) (the controller building a bundle; delegate it to
    C(localhost)). apt resolves O(packages) for one distribution (O(codename), O(architecture)) against
    O(sources), verified with O(keyring), in a private state folder O(state_dir); the controller's own apt
    configuration, sources and package state are neither read for the resolving nor changed.
  - The dpkg status apt resolves against is empty, so the repository holds every package the set needs down to
    the C(Essential) ones it names, whatever a target host already has.
  - The repository O(dest) is flat (C(Packages), C(Packages.gz), C(Release), C(InRelease), C(Release.gpg),
    C(pool/)); hosts use it with C(URIs) the repository's URL, C(Suites) C(./) and C(Signed-By) the public key of
    O(signing_key).
  - Every stanza of C(Packages) is the archive's own stanza for a downloaded file, found by that file's sha256,
    with C(Filename) pointing into C(pool/); a file no signed index vouches for fails the task.
  - Downloads are kept in O(state_dir) between runs, so a second run downloads nothing; the repository changes
    (and is signed again) only when the resolved set or the signing key changed. New files go in first, the signed indexes next,
    files no longer listed last.
options:
  packages:
    description:
      - Package names, optionally with C(=version) (a trailing C(*) allowed, as for apt).
    type: list
    elements: str
    required: true
  alternatives:
    description:
      - Further package sets, each resolved on its own together with O(packages), for packages that cannot be
        installed together (for example the open and the proprietary NVIDIA kernel modules). The repository holds
        the union.
    type: list
    elements: list
    default: []
  preferences:
    description: apt preferences (pins) to resolve with, as the target hosts have them (for example a driver pin).
    type: str
    default: ""
  codename:
    description: Distribution codename the repository is for (C(bookworm), C(trixie), ...).
    type: str
    required: true
  architecture:
    description: Debian architecture of the target hosts.
    type: str
    default: amd64
  sources:
    description:
      - The archive to resolve against, each with C(uri), C(suites) (list) and C(components) (list).
      - Empty takes the Debian archive the controller itself uses, the URIs of its apt sources whose suites are its
        own release (for example C(bookworm), C(bookworm-updates), C(bookworm-security)), with that release renamed
        to O(codename) and O(components).
    type: list
    elements: dict
    default: []
  components:
    description: Archive components of the sources taken from the controller (NVIDIA's driver is in contrib and non-free).
    type: list
    elements: str
    default: [main, contrib, non-free, non-free-firmware]
  keyring:
    description: OpenPGP keyring that verifies the archive's Release files (the distribution's archive keyring).
    type: path
    required: true
  state_dir:
    description: Private apt state (lists, downloaded packages) of this codename and architecture, kept between runs.
    type: path
    required: true
  dest:
    description: Folder of the flat repository.
    type: path
    required: true
  gnupg_home:
    description: GnuPG home that holds the signing key.
    type: path
    required: true
  signing_key:
    description: Fingerprint of the key that signs C(InRelease) and C(Release.gpg).
    type: str
    required: true
  origin:
    description: C(Origin) and C(Label) of the repository's Release file.
    type: str
    default: llm-infra bundle
attributes:
  check_mode:
    support: full
    description: Resolves and downloads into O(state_dir) (which is not the repository), writes nothing to O(dest).
notes:
  - C(apt-get update) exits 0 when one index failed to download; the module fails on its C(E:) and C(Err:) lines.
"""

EXAMPLES = r"""
- name: Collect the Debian 12 packages of the gateway hosts
  llm_infra.cluster.apt_bundle:
    packages: [haproxy, keepalived, prometheus-node-exporter]
    codename: bookworm
    sources:
      - uri: http://archive.mirror.example.internal/debian
        suites: [bookworm, bookworm-updates]
        components: [main]
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
    state_dir: ~/.cache/llm-infra/bundle-apt/bookworm-amd64
    dest: /srv/bundle/debian/bookworm
    gnupg_home: ~/credentials/mirror/gnupg
    signing_key: 0123456789ABCDEF0123456789ABCDEF01234567
  delegate_to: localhost
"""

RETURN = r"""
sources:
  description: The archive the packages were resolved against.
  returned: success
  type: list
  elements: dict
packages:
  description: Number of packages in the repository.
  returned: always
  type: int
bytes:
  description: Total size of the repository's packages.
  returned: always
  type: int
removed:
  description: Files no longer in the set, removed from C(pool/).
  returned: always
  type: list
  elements: str
"""

import os  # noqa: E402  pylint: disable=wrong-import-position

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.llm_infra.cluster.plugins.module_utils import _apt_repo  # noqa: E402  pylint: disable=wrong-import-position


def main():
    module = AnsibleModule(
        argument_spec={
            "packages": {"type": "list", "elements": "str", "required": True},
            "alternatives": {"type": "list", "elements": "list", "default": []},
            "preferences": {"type": "str", "default": ""},
            "codename": {"type": "str", "required": True},
            "architecture": {"type": "str", "default": "amd64"},
            "sources": {"type": "list", "elements": "dict", "default": []},
            "components": {"type": "list", "elements": "str", "default": ["main", "contrib", "non-free", "non-free-firmware"]},
            "keyring": {"type": "path", "required": True},
            "state_dir": {"type": "path", "required": True},
            "dest": {"type": "path", "required": True},
            "gnupg_home": {"type": "path", "required": True},
            "signing_key": {"type": "str", "required": True, "no_log": False},
            "origin": {"type": "str", "default": "llm-infra bundle"},
        },
        supports_check_mode=True,
    )
    params = module.params
    problems = []
    if not params["packages"]:
        problems.append("packages is empty")
    bad = _apt_repo.bad_packages(params["packages"] + [name for group in params["alternatives"] for name in group])
    if bad:
        problems.append("packages has names apt would not take: %s" % ", ".join(bad))
    if not _apt_repo.CODENAME_RE.match(params["codename"]):
        problems.append("codename %r is not a distribution codename" % params["codename"])
    for index, source in enumerate(params["sources"]):
        if not str(source.get("uri", "")).startswith(("http://", "https://", "file:")) or not source.get("suites") \
                or not source.get("components"):
            problems.append("sources[%d] needs uri (http, https or file), suites and components" % index)
    if not os.path.isfile(params["keyring"]):
        problems.append("keyring %s is not a file" % params["keyring"])
    if problems:
        module.fail_json(msg="apt bundle for %s: %s" % (params["codename"], "; ".join(problems)))

    try:
        sources = params["sources"] or _apt_repo.controller_sources(params["codename"], params["components"])
        state = _apt_repo.AptState(params["state_dir"], params["architecture"])
        state.write_sources(_apt_repo.sources_text(sources, params["keyring"]))
        state.write_preferences(params["preferences"])
        state.update()
        debs = set()
        for group in [[]] + [list(group) for group in params["alternatives"]]:
            debs.update(state.download(list(params["packages"]) + group))
        debs = sorted(debs)
        entries = _apt_repo.repository_stanzas(debs, state.index_stanzas())
        result = _apt_repo.write_repository(
            params["dest"], entries, params["codename"], params["architecture"], params["origin"],
            _apt_repo.gpg_signer(params["gnupg_home"], params["signing_key"]), check_mode=module.check_mode,
            signer_id=params["signing_key"].upper())
    except (_apt_repo.AptRepoError, OSError) as exc:
        module.fail_json(msg="apt bundle for %s %s: %s" % (params["codename"], params["architecture"], exc))
    module.exit_json(sources=sources, **result)


if __name__ == "__main__":
    main()

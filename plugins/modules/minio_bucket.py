# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: an S3 bucket on MinIO with its versioning and lifecycle rules."""

from __future__ import annotations

DOCUMENTATION = r"""
module: minio_bucket
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.3.0
short_description: Manage a MinIO bucket, its versioning and lifecycle rules
description:
  - Creates or removes a bucket through the S3 API (MinIO Python SDK) and keeps its versioning state and
    lifecycle rules as given. Reads first and writes only what differs.
  - The bucket name is checked against the S3 naming rules before any request.
requirements:
  - minio (Python SDK) 7.2 or later where the module runs
options:
  name:
    description: Bucket name (S3 rules, 3-63 characters).
    type: str
    required: true
  state:
    description: C(present) or C(absent). An absent bucket must be empty.
    type: str
    default: present
    choices: [present, absent]
  versioning:
    description: Turn versioning on (C(true)) or suspend it (C(false)); unset leaves it as it is.
    type: bool
  lifecycle:
    description:
      - Lifecycle rules, each C({id, prefix, enabled, expiration_days, noncurrent_expiration_days, abort_incomplete_days}).
      - An empty list removes every rule; unset leaves the rules as they are.
      - MinIO rejects C(abort_incomplete_days) (it removes stale multipart uploads on its own); other S3 servers accept it.
    type: list
    elements: dict
extends_documentation_fragment:
  - llm_infra.cluster.minio
attributes:
  check_mode:
    support: full
    description: Reads and compares, never writes.
"""

EXAMPLES = r"""
- name: A versioned bucket whose old versions expire after 30 days
  llm_infra.cluster.minio_bucket:
    endpoint: https://10.0.0.5:9000
    access_key: llm-infra-root
    secret_key: "{{ lookup('llm_infra.cluster.credential', 'minio/root') }}"
    ca_cert: /etc/llm-infra/tls/ca.crt
    name: models
    versioning: true
    lifecycle:
      - id: old-versions
        noncurrent_expiration_days: 30
      - id: stale-uploads
        abort_incomplete_days: 2
  delegate_to: localhost
"""

RETURN = r"""
changes:
  description: What was (or in check mode would be) changed, e.g. C(created), C(versioning), C(lifecycle).
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llm_infra.cluster.plugins.module_utils._minio import (
    CONNECTION_SPEC, bucket_name_problem, build_lifecycle, lifecycle_rule_dicts, require_sdk,
    s3_client, wanted_rule_dicts)


def ensure_bucket(client, params, check_mode):
    """Bring the bucket to the wanted state; returns the list of changes."""
    name = params["name"]
    problem = bucket_name_problem(name)
    if problem:
        raise ValueError("bucket name %r is not valid for S3: it %s" % (name, problem))
    changes = []
    exists = client.bucket_exists(name)
    if params["state"] == "absent":
        if exists:
            changes.append("removed")
            if not check_mode:
                client.remove_bucket(name)
        return changes
    if not exists:
        changes.append("created")
        if not check_mode:
            client.make_bucket(name)

    if params.get("versioning") is not None:
        from minio.versioningconfig import ENABLED, SUSPENDED, VersioningConfig
        current = client.get_versioning_status(name) if exists else "Off"
        wanted = ENABLED if params["versioning"] else SUSPENDED
        # A bucket that never had versioning reports "Off", which equals suspended for our purpose.
        if current != wanted and not (wanted == SUSPENDED and current == "Off"):
            changes.append("versioning")
            if not check_mode:
                client.set_bucket_versioning(name, VersioningConfig(wanted))

    if params.get("lifecycle") is not None:
        wanted_rules = wanted_rule_dicts(params["lifecycle"])
        current_rules = lifecycle_rule_dicts(client.get_bucket_lifecycle(name)) if exists else []
        if wanted_rules != current_rules:
            changes.append("lifecycle")
            if not check_mode:
                if wanted_rules:
                    client.set_bucket_lifecycle(name, build_lifecycle(wanted_rules))
                else:
                    client.delete_bucket_lifecycle(name)
    return changes


class _Client:
    """The SDK client with the one call the SDK lacks: the plain versioning status."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, item):
        return getattr(self._client, item)

    def get_versioning_status(self, name):
        return self._client.get_bucket_versioning(name).status


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CONNECTION_SPEC,
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            versioning=dict(type="bool"),
            lifecycle=dict(type="list", elements="dict"),
        ),
        supports_check_mode=True,
    )
    require_sdk(module)
    try:
        changes = ensure_bucket(_Client(s3_client(module.params)), module.params, module.check_mode)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="bucket %s: %s" % (module.params["name"], exc))
    module.exit_json(changed=bool(changes), changes=changes)


if __name__ == "__main__":
    main()

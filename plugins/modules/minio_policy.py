# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: a MinIO IAM policy (canned policy) through the admin API."""

from __future__ import annotations

DOCUMENTATION = r"""
module: minio_policy
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.3.0
short_description: Manage a MinIO IAM policy through the admin API
description:
  - Creates, updates or removes a policy with C(minio.MinioAdmin). The stored policy is compared with O(policy)
    after normalisation (order of statements, actions and resources, single values versus lists), so an
    equal policy is never rewritten.
requirements:
  - minio (Python SDK) 7.2 or later where the module runs
options:
  name:
    description: Policy name.
    type: str
    required: true
  policy:
    description: The IAM policy document (C(Version), C(Statement)). Required with O(state=present).
    type: dict
  state:
    description: C(present) or C(absent).
    type: str
    default: present
    choices: [present, absent]
extends_documentation_fragment:
  - llm_infra.cluster.minio
attributes:
  check_mode:
    support: full
    description: Reads and compares, never writes.
"""

EXAMPLES = r"""
- name: Read-only access to the models bucket
  llm_infra.cluster.minio_policy:
    endpoint: https://10.0.0.5:9000
    access_key: llm-infra-root
    secret_key: "{{ lookup('llm_infra.cluster.credential', 'minio/root') }}"
    ca_cert: /etc/llm-infra/tls/ca.crt
    name: models-read
    policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: ["s3:GetObject"]
          Resource: ["arn:aws:s3:::models/*"]
  delegate_to: localhost
  no_log: true
"""

RETURN = r"""
created:
  description: Whether the policy did not exist before.
  type: bool
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llm_infra.cluster.plugins.module_utils._minio import (
    CONNECTION_SPEC, admin_client, admin_not_found, normalize_policy, policy_from_admin, require_sdk)


def ensure_policy(admin, params, check_mode):
    """Returns (changed, created)."""
    name = params["name"]
    try:
        current = normalize_policy(policy_from_admin(admin.policy_info(name)))
    except Exception as exc:  # pylint: disable=broad-except
        if not admin_not_found(exc):
            raise
        current = None
    if params["state"] == "absent":
        if current is not None and not check_mode:
            admin.policy_remove(name)
        return current is not None, False
    if not params.get("policy") or not params["policy"].get("Statement"):
        raise ValueError("policy %s: a policy document with at least one Statement is required" % name)
    if current == normalize_policy(params["policy"]):
        return False, False
    if not check_mode:
        admin.policy_add(name, policy=params["policy"])
    return True, current is None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CONNECTION_SPEC,
            name=dict(type="str", required=True),
            policy=dict(type="dict"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ["policy"])],
        supports_check_mode=True,
    )
    require_sdk(module)
    try:
        changed, created = ensure_policy(admin_client(module.params), module.params, module.check_mode)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="policy %s: %s" % (module.params["name"], exc))
    module.exit_json(changed=changed, created=created)


if __name__ == "__main__":
    main()

# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: a MinIO user, its secret, its attached policies and groups, through the admin API."""

from __future__ import annotations

DOCUMENTATION = r"""
module: minio_user
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.3.0
short_description: Manage a MinIO user, its secret key, policies and groups
description:
  - Creates or removes a user with C(minio.MinioAdmin), attaches exactly the policies of O(policies) (detaching
    others) and adds the user to O(groups) (creating a group that does not exist yet).
  - The admin API never returns a secret, so the secret is checked by signing one S3 request as the user.
    The answer C(SignatureDoesNotMatch) or C(InvalidAccessKeyId) means it differs and it is set again; any other
    answer (C(AccessDenied) included) means it is right.
requirements:
  - minio (Python SDK) 7.2 or later where the module runs
options:
  name:
    description: Access key (user name).
    type: str
    required: true
  user_secret:
    description: Secret key of the user (8-40 characters). Required with O(state=present).
    type: str
  policies:
    description: Policies attached to the user; others are detached. Unset leaves them as they are.
    type: list
    elements: str
  groups:
    description: Groups the user is a member of (added to, never removed from others).
    type: list
    elements: str
    default: []
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
- name: The read-only user of the serving hosts
  llm_infra.cluster.minio_user:
    endpoint: https://10.0.0.5:9000
    access_key: llm-infra-root
    secret_key: "{{ lookup('llm_infra.cluster.credential', 'minio/root') }}"
    ca_cert: /etc/llm-infra/tls/ca.crt
    name: models-reader
    user_secret: "{{ lookup('llm_infra.cluster.credential', 'minio/models-reader') }}"
    policies: [models-read]
  delegate_to: localhost
  no_log: true
"""

RETURN = r"""
changes:
  description: What was (or would be) changed, e.g. C(created), C(secret), C(attached:x), C(detached:y), C(group:g).
  type: list
  elements: str
  returned: always
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llm_infra.cluster.plugins.module_utils._minio import (
    CONNECTION_SPEC, S3Error, admin_client, admin_not_found, require_sdk, s3_client, split_policies)


BAD_SECRET_CODES = ("SignatureDoesNotMatch", "InvalidAccessKeyId")


def secret_works(probe):
    """probe() signs one S3 request as the user; True unless the server rejects the key itself."""
    try:
        probe()
    except S3Error as exc:
        return exc.code not in BAD_SECRET_CODES
    return True


def ensure_user(admin, probe, params, check_mode):
    name = params["name"]
    try:
        info = json.loads(admin.user_info(name))
    except Exception as exc:  # pylint: disable=broad-except
        if not admin_not_found(exc):
            raise
        info = None
    changes = []
    if params["state"] == "absent":
        if info is not None:
            changes.append("removed")
            if not check_mode:
                admin.user_remove(name)
        return changes
    secret = params.get("user_secret") or ""
    if not 8 <= len(secret) <= 40:
        raise ValueError("user %s: user_secret must be 8-40 characters" % name)
    if info is None:
        changes.append("created")
        if not check_mode:
            admin.user_add(name, secret)
        info = {}
    elif not secret_works(probe):
        changes.append("secret")
        if not check_mode:
            admin.user_add(name, secret)
    if info.get("status", "enabled") != "enabled":
        changes.append("enabled")
        if not check_mode:
            admin.user_enable(name)

    if params.get("policies") is not None:
        current = split_policies(info.get("policyName"))
        wanted = sorted(set(params["policies"]))
        attach = [p for p in wanted if p not in current]
        detach = [p for p in current if p not in wanted]
        changes += ["attached:" + p for p in attach] + ["detached:" + p for p in detach]
        if not check_mode:
            if attach:
                admin.attach_policy(attach, user=name)
            if detach:
                admin.detach_policy(detach, user=name)

    member_of = set(info.get("memberOf") or [])
    for group in params["groups"]:
        if group not in member_of:
            changes.append("group:" + group)
            if not check_mode:
                admin.group_add(group, [name])
    return changes


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CONNECTION_SPEC,
            name=dict(type="str", required=True),
            user_secret=dict(type="str", no_log=True),
            policies=dict(type="list", elements="str"),
            groups=dict(type="list", elements="str", default=[]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ["user_secret"])],
        supports_check_mode=True,
    )
    require_sdk(module)
    params = module.params

    def probe():
        # Any signed request will do; a user without rights to it gets AccessDenied, which proves the secret.
        s3_client(params, access_key=params["name"], secret_key=params["user_secret"]).list_buckets()

    try:
        changes = ensure_user(admin_client(params), probe, params, module.check_mode)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="user %s: %s" % (params["name"], exc))
    module.exit_json(changed=bool(changes), changes=changes)


if __name__ == "__main__":
    main()

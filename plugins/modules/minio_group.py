# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: a MinIO group and its attached policies, through the admin API."""

from __future__ import annotations

DOCUMENTATION = r"""
module: minio_group
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.3.0
short_description: Manage a MinIO group and the policies attached to it
description:
  - Creates a group (with its O(members), added but never removed) or removes it, and attaches exactly the
    policies of O(policies) with C(minio.MinioAdmin).
  - MinIO keeps no empty group, so a new group needs at least one member.
requirements:
  - minio (Python SDK) 7.2 or later where the module runs
options:
  name:
    description: Group name.
    type: str
    required: true
  members:
    description: Users that are members (added when missing).
    type: list
    elements: str
    default: []
  policies:
    description: Policies attached to the group; others are detached. Unset leaves them as they are.
    type: list
    elements: str
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
- name: Operators may read and write the models bucket
  llm_infra.cluster.minio_group:
    endpoint: https://10.0.0.5:9000
    access_key: llm-infra-root
    secret_key: "{{ lookup('llm_infra.cluster.credential', 'minio/root') }}"
    name: model-publishers
    members: [ci]
    policies: [models-write]
  delegate_to: localhost
  no_log: true
"""

RETURN = r"""
changes:
  description: What was (or would be) changed.
  type: list
  elements: str
  returned: always
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llm_infra.cluster.plugins.module_utils._minio import (
    CONNECTION_SPEC, admin_client, admin_not_found, require_sdk, split_policies)


def ensure_group(admin, params, check_mode):
    name = params["name"]
    try:
        info = json.loads(admin.group_info(name))
    except Exception as exc:  # pylint: disable=broad-except
        if not admin_not_found(exc):
            raise
        info = None
    changes = []
    if params["state"] == "absent":
        if info is not None:
            changes.append("removed")
            if not check_mode:
                members = info.get("members") or []
                if members:
                    admin.group_remove(name, members)
                admin.group_remove(name)
        return changes
    if info is None and not params["members"]:
        raise ValueError("group %s: a new group needs at least one member" % name)
    missing = [m for m in params["members"] if m not in (info or {}).get("members", [])]
    if info is None:
        changes.append("created")
    changes += ["member:" + m for m in missing]
    if missing and not check_mode:
        admin.group_add(name, missing)
    if params.get("policies") is not None:
        current = split_policies((info or {}).get("policy"))
        wanted = sorted(set(params["policies"]))
        attach = [p for p in wanted if p not in current]
        detach = [p for p in current if p not in wanted]
        changes += ["attached:" + p for p in attach] + ["detached:" + p for p in detach]
        if not check_mode:
            if attach:
                admin.attach_policy(attach, group=name)
            if detach:
                admin.detach_policy(detach, group=name)
    return changes


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CONNECTION_SPEC,
            name=dict(type="str", required=True),
            members=dict(type="list", elements="str", default=[]),
            policies=dict(type="list", elements="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        supports_check_mode=True,
    )
    require_sdk(module)
    try:
        changes = ensure_group(admin_client(module.params), module.params, module.check_mode)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="group %s: %s" % (module.params["name"], exc))
    module.exit_json(changed=bool(changes), changes=changes)


if __name__ == "__main__":
    main()

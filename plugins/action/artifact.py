# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Action: fetch a pinned artifact into the controller cache, verify it, optionally unpack one file, copy it to the host."""

from __future__ import annotations

import os

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.llm_infra.cluster.plugins.plugin_utils import _artifact

COPY_OPTIONS = ("dest", "mode", "owner", "group")
OPTIONS = {
    "name": {"type": "str", "required": True},
    "table": {"type": "dict", "required": True},
    "architecture": {"type": "str"},
    "sha256": {"type": "raw"},
    "sha256_variable": {"type": "str", "default": ""},
    "member": {"type": "str"},
    "mirror_url": {"type": "str"},
    "mirror_ca": {"type": "path"},
    "cache_dir": {"type": "path"},
    "dest": {"type": "path"},
    "mode": {"type": "raw"},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "resolve_only": {"type": "bool", "default": False},
    "fetch_only": {"type": "bool", "default": False},
    "retries": {"type": "int", "default": 3},
    "delay": {"type": "int", "default": 5},
    "timeout": {"type": "int", "default": 60},
}


class ActionModule(ActionBase):
    """See plugins/modules/artifact.py for the documentation."""

    TRANSFERS_FILES = True

    def _var(self, task_vars, name, fallback):
        if name not in task_vars:
            return fallback
        value = self._templar.template(task_vars[name])
        return fallback if value is None else to_text(value)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=OPTIONS)[1]

        architecture = args["architecture"]
        if not architecture:
            facts = self._templar.template(task_vars.get("ansible_facts", {})) or {}
            architecture = facts.get("architecture", "")
        mirror_url = args["mirror_url"] if args["mirror_url"] is not None else self._var(task_vars, "llm_infra_mirror_url", "")
        mirror_ca = args["mirror_ca"] if args["mirror_ca"] is not None else self._var(task_vars, "llm_infra_mirror_ca_cert", "")
        if mirror_url and not mirror_ca:
            # The mirror role's certificate comes from the controller CA (docs/air-gap.md).
            credentials = self._var(task_vars, "llm_infra_credentials_dir", "")
            controller_ca = os.path.join(os.path.expanduser(credentials), "pki", "ca.crt") if credentials else ""
            mirror_ca = controller_ca if controller_ca and os.path.isfile(controller_ca) else ""
        cache_dir = args["cache_dir"] or self._var(
            task_vars, "llm_infra_artifact_cache_dir", os.path.join(os.path.expanduser("~"), ".cache", "llm-infra"))

        try:
            resolved = _artifact.resolve(
                args["table"], args["name"], architecture, cache_dir, mirror_url=mirror_url,
                sha256=args["sha256"], sha256_variable=args["sha256_variable"], member=args["member"])
        except _artifact.ArtifactError as exc:
            return dict(result, failed=True, changed=False, msg=to_text(exc))
        result["artifact"] = resolved
        if args["resolve_only"]:
            result["changed"] = False
            return result
        if not args["dest"] and not args["fetch_only"]:
            return dict(result, failed=True, changed=False,
                        msg="artifact %s %s: dest is required unless resolve_only or fetch_only is set"
                        % (resolved["name"], resolved["version"]))

        try:
            if self._task.check_mode and not _artifact.cached(resolved):
                # Check mode fetches nothing: without the file in the cache the host is taken to need it.
                result.update(changed=True, downloaded=False,
                              msg="check mode: %s is not in the controller cache yet" % resolved["url"])
                return result
            result["downloaded"] = False if self._task.check_mode else _artifact.fetch(
                resolved, retries=args["retries"], delay=args["delay"], timeout=args["timeout"],
                ca_path=os.path.expanduser(mirror_ca) if mirror_url and mirror_ca else "")
            if args["fetch_only"]:
                # Into the cache only (a bundle's artifacts folder is such a cache): the archive itself, no member.
                result["changed"] = bool(result["downloaded"])
                return result
            source = resolved["cache_path"]
            if resolved["member"]:
                if self._task.check_mode and not os.path.isfile(resolved["member_path"]):
                    result.update(changed=True, msg="check mode: %s is not unpacked yet" % resolved["member"])
                    return result
                if not self._task.check_mode:
                    _artifact.extract(resolved)
                source = resolved["member_path"]
        except _artifact.ArtifactError as exc:
            return dict(result, failed=True, changed=False, msg=to_text(exc))

        copy_task = self._task.copy()
        copy_task.args = {key: args[key] for key in COPY_OPTIONS if args[key] is not None}
        copy_task.args["src"] = source
        copy_action = self._shared_loader_obj.action_loader.get(
            "ansible.legacy.copy", task=copy_task, connection=self._connection, play_context=self._play_context,
            loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
        copied = copy_action.run(task_vars=task_vars)
        copied.pop("invocation", None)
        result.update(copied)
        result["artifact"] = resolved
        result["changed"] = bool(copied.get("changed", False))
        return result

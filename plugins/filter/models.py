# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of model staging, shared by model_store (which stages the files) and llama_cpp (which serves them)."""

from __future__ import annotations

# Documented next to this file in one file per filter, so that each gets its own ansible-doc page:
# model_file_name.yml, model_stage_summary.yml.

import os
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean


def model_file_name(model):
    """The file name of a staged model: its `file`, else the last path part of its src, url or S3 object."""
    if not isinstance(model, Mapping):
        raise AnsibleFilterError("model_file_name: expected a model dict (name, sha256, src/url/s3), got %r" % (model,))
    if "file" in model:
        return model["file"]
    if "src" in model:
        source = model["src"]
    elif "url" in model:
        source = model["url"]
    else:
        s3 = model.get("s3")
        source = s3.get("object", "") if isinstance(s3, Mapping) else ""
    # A URL's query (a presigned signature, a download token) is no part of the name.
    return os.path.basename(str(source).split("?", 1)[0])


def model_stage_summary(results):
    """model_store_staged from the staging loop's results: model name -> {path, sha256, changed}."""
    staged = {}
    for result in results or []:
        checked = result["item"]
        model = checked["item"]
        staged[model["name"]] = {
            "path": checked["path"],
            "sha256": str(model["sha256"]).lower(),
            "changed": boolean(result.get("replaced", False), strict=False),
        }
    return staged


class FilterModule:
    def filters(self):
        return {
            "model_file_name": model_file_name,
            "model_stage_summary": model_stage_summary,
        }

# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: metadata of a GGUF model file (trained context length, architecture, ...)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gguf_info
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.3.0
short_description: Read the metadata header of a GGUF model file
description:
  - "Reads only the key/value header of a GGUF (version 2 or 3) file, never the tensor data, with the Python
    standard library. Run it on the controller (C(delegate_to: localhost)) to check a model before it is
    copied anywhere, or on a host for a staged model."
  - Changes nothing; supports check mode.
options:
  path:
    description: Path of the GGUF file.
    type: path
    required: true
  keys:
    description: Metadata keys to return in RV(metadata) besides the summary; empty returns none.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Reads the file, changes nothing.
"""

EXAMPLES = r"""
- name: Read the trained context length of a model on the controller
  llm_infra.cluster.gguf_info:
    path: ~/models/gemma-3-270m-q4_k_m.gguf
  delegate_to: localhost
  register: model

- name: Refuse a context the model was not trained for
  ansible.builtin.assert:
    that: 8192 <= model.context_length
"""

RETURN = r"""
architecture:
  description: C(general.architecture), e.g. C(llama), C(gemma3).
  returned: success
  type: str
name:
  description: C(general.name).
  returned: success
  type: str
context_length:
  description: Trained context length (C(<arch>.context_length)), 0 when the file does not say.
  returned: success
  type: int
block_count:
  description: Number of transformer blocks (layers).
  returned: success
  type: int
embedding_length:
  description: Embedding width.
  returned: success
  type: int
file_type:
  description: C(general.file_type) (llama.cpp's quantisation id), -1 when absent.
  returned: success
  type: int
has_chat_template:
  description: Whether the file carries C(tokenizer.chat_template).
  returned: success
  type: bool
tensor_count:
  description: Number of tensors.
  returned: success
  type: int
version:
  description: GGUF format version.
  returned: success
  type: int
metadata:
  description: The requested O(keys) that the file has (long arrays as C({array_length}) only).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llm_infra.cluster.plugins.module_utils._gguf import GGUFError, read_metadata, summary


def main():
    module = AnsibleModule(
        argument_spec={"path": {"type": "path", "required": True}, "keys": {"type": "list", "elements": "str", "default": [], "no_log": False}},
        supports_check_mode=True,
    )
    path = module.params["path"]
    try:
        info = read_metadata(path)
    except (OSError, GGUFError) as exc:
        module.fail_json(msg="cannot read the GGUF metadata of %s: %s" % (path, exc))
    result = summary(info)
    result["metadata"] = {key: info["metadata"][key] for key in module.params["keys"] if key in info["metadata"]}
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

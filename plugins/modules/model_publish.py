# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: publish a model file into an S3 bucket, its sha256 kept as object metadata, skipped when present."""

from __future__ import annotations

DOCUMENTATION = r"""
module: model_publish
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.3.0
short_description: Publish a model file into an S3 (MinIO) bucket with its sha256 as object metadata
description:
  - Uploads O(src) as O(object) into O(bucket) with the metadata C(x-amz-meta-sha256), in parts of
    O(part_size) bytes (a multipart upload for any file larger than one part).
  - Nothing is uploaded when the object already exists with the same size and the same C(sha256) metadata; the
    result then reports C(changed=false), C(uploaded=false) and the existing object's ETag.
  - Before an upload the file is hashed and must match O(sha256), so a corrupted download never gets published.
requirements:
  - minio (Python SDK) 7.2 or later where the module runs (the controller)
options:
  bucket:
    description: Bucket to publish into.
    type: str
    required: true
  object:
    description: Object key, e.g. C(gemma3-270m/gemma-3-270m-q4_k_m.gguf).
    type: str
    required: true
  src:
    description: Path of the model file where the module runs.
    type: path
    required: true
  sha256:
    description: Expected sha256 of the file (64 hexadecimal digits).
    type: str
    required: true
  part_size:
    description: Size of each part of the upload in bytes (5 MiB to 5 GiB).
    type: int
    default: 67108864
extends_documentation_fragment:
  - llm_infra.cluster.minio
attributes:
  check_mode:
    support: full
    description: Compares with the stored object, uploads nothing.
"""

EXAMPLES = r"""
- name: Publish Gemma 3 270M
  llm_infra.cluster.model_publish:
    endpoint: https://10.0.0.5:9000
    access_key: llm-infra-root
    secret_key: "{{ lookup('llm_infra.cluster.credential', 'minio/root') }}"
    ca_cert: ~/.cache/llm-infra/minio-ca.crt
    bucket: models
    object: gemma3-270m/gemma-3-270m-q4_k_m.gguf
    src: ~/models/gemma-3-270m-q4_k_m.gguf
    sha256: a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
  delegate_to: localhost
"""

RETURN = r"""
uploaded:
  description: Whether the file was uploaded in this run.
  type: bool
  returned: always
etag:
  description: ETag of the object in the bucket (a multipart ETag ends in C(-<parts>)).
  type: str
  returned: when the object exists after the run
version_id:
  description: Version of the object when the bucket is versioned.
  type: str
  returned: when the object exists after the run
last_modified:
  description: Modification time of the object (ISO 8601).
  type: str
  returned: when the object exists after the run
size:
  description: Size of the object in bytes.
  type: int
  returned: always
"""

import hashlib
import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llm_infra.cluster.plugins.module_utils._minio import (
    CONNECTION_SPEC, S3Error, require_sdk, s3_client)


META_KEY = "x-amz-meta-sha256"
SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
# S3's limits on a part of a multipart upload.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(4 * 1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def stat_or_none(client, bucket, key):
    try:
        return client.stat_object(bucket, key)
    except S3Error as exc:
        if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
            return None
        raise


def describe(stat):
    if stat is None:
        return {}
    return {"etag": stat.etag, "version_id": stat.version_id,
            "last_modified": stat.last_modified.isoformat() if stat.last_modified else None}


def stored_sha256(stat):
    metadata = stat.metadata or {}
    for key, value in metadata.items():
        if key.lower() == META_KEY:
            return value.lower()
    return None


def input_problem(params):
    """Why the module's input cannot work, before anything is read or sent; None when it can."""
    if not SHA256_RE.match(params["sha256"] or ""):
        return "sha256 must be 64 hexadecimal digits, got %r" % params["sha256"]
    if not MIN_PART_SIZE <= params["part_size"] <= MAX_PART_SIZE:
        return "part_size must be 5 MiB to 5 GiB (%d-%d bytes), got %d" % (MIN_PART_SIZE, MAX_PART_SIZE, params["part_size"])
    return None


def publish(client, params, check_mode, hasher=sha256_file):
    bucket, key, src = params["bucket"], params["object"], params["src"]
    problem = input_problem(params)
    if problem:
        raise ValueError(problem)
    sha256 = params["sha256"].lower()
    if not os.path.isfile(src):
        raise ValueError("src %s is not a file" % src)
    size = os.path.getsize(src)
    stat = stat_or_none(client, bucket, key)
    if stat is not None and stat.size == size and stored_sha256(stat) == sha256:
        return dict(changed=False, uploaded=False, size=size, **describe(stat))
    if check_mode:
        return dict(changed=True, uploaded=False, size=size, **describe(stat))
    actual = hasher(src)
    if actual != sha256:
        raise ValueError("%s has sha256 %s, expected %s: not published" % (src, actual, sha256))
    client.fput_object(bucket, key, src, metadata={"sha256": sha256}, part_size=params["part_size"])
    return dict(changed=True, uploaded=True, size=size, **describe(client.stat_object(bucket, key)))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CONNECTION_SPEC,
            bucket=dict(type="str", required=True),
            object=dict(type="str", required=True),
            src=dict(type="path", required=True),
            sha256=dict(type="str", required=True),
            part_size=dict(type="int", default=64 * 1024 * 1024),
        ),
        supports_check_mode=True,
    )
    require_sdk(module)
    try:
        result = publish(s3_client(module.params), module.params, module.check_mode)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="model %s/%s: %s" % (module.params["bucket"], module.params["object"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Lookup: a presigned S3 GET URL for one object, signed on the controller with the MinIO Python SDK."""

from __future__ import annotations

DOCUMENTATION = r"""
name: minio_presign
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.3.0
short_description: Presigned S3 GET URL of an object, signed on the controller
description:
  - Signs a GET URL for each object key given, with AWS signature version 4, valid for O(expires) seconds.
  - Signing is a local computation (the region is given, so no request is sent); whoever holds the URL may read
    that one object until it expires, nothing else.
requirements:
  - minio (Python SDK) on the controller
options:
  _terms:
    description: Object keys.
    type: list
    elements: str
    required: true
  endpoint:
    description: S3 endpoint URL, e.g. C(https://10.0.0.5:9000).
    type: str
    required: true
  bucket:
    description: Bucket of the objects.
    type: str
    required: true
  access_key:
    description: Access key of the user that signs (a read-only user).
    type: str
    required: true
  secret_key:
    description: Secret key of that user.
    type: str
    required: true
  region:
    description: Region the server expects; MinIO's default is C(us-east-1).
    type: str
    default: us-east-1
  expires:
    description: Validity of the URL in seconds (at most 7 days).
    type: int
    default: 3600
"""

EXAMPLES = r"""
- name: Sign a URL for the Gemma model
  ansible.builtin.set_fact:
    model_url: >-
      {{ lookup('llm_infra.cluster.minio_presign', 'gemma3-270m/gemma-3-270m-q4_k_m.gguf', bucket='models',
                endpoint='https://10.0.0.5:9000', access_key='models-reader',
                secret_key=lookup('llm_infra.cluster.credential', 'minio/models-reader')) }}
  no_log: true
"""

RETURN = r"""
_raw:
  description: One presigned URL per object key.
  type: list
  elements: str
"""

from datetime import timedelta

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.llm_infra.cluster.plugins.module_utils._minio import split_endpoint

try:
    from minio import Minio
except ImportError:  # pragma: no cover - reported when the lookup runs
    Minio = None


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if Minio is None:
            raise AnsibleLookupError("minio_presign needs the minio Python SDK on the controller")
        expires = int(self.get_option("expires"))
        if not 1 <= expires <= 7 * 24 * 3600:
            raise AnsibleLookupError("minio_presign: expires must be 1-604800 seconds, got %d" % expires)
        host, secure = split_endpoint(self.get_option("endpoint"))
        client = Minio(host, access_key=self.get_option("access_key"), secret_key=self.get_option("secret_key"),
                       secure=secure, region=self.get_option("region"))
        return [client.presigned_get_object(self.get_option("bucket"), key, expires=timedelta(seconds=expires))
                for key in terms]

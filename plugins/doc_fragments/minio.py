# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Documentation of the connection options every minio_* and model_publish module takes."""

from __future__ import annotations


class ModuleDocFragment:
    # Matches CONNECTION_SPEC in plugins/module_utils/_minio.py.
    DOCUMENTATION = r"""
options:
  endpoint:
    description: S3 endpoint URL, C(https://host:port) (C(http://) only for tests without TLS).
    type: str
    required: true
  access_key:
    description: Access key of the user that acts (the root user for the admin modules).
    type: str
    required: true
  secret_key:
    description: Secret key of that user.
    type: str
    required: true
  ca_cert:
    description: CA bundle that verifies the server certificate; empty uses the system trust store.
    type: path
    default: ""
  region:
    description: Region the server expects.
    type: str
    default: us-east-1
  timeout:
    description: Seconds to wait for each request.
    type: int
    default: 60
"""

# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Lookup: the bearer token (JWT) MinIO accepts for its Prometheus endpoints, signed on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
name: minio_prometheus_token
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.3.0
short_description: Bearer token for MinIO's Prometheus metrics (MINIO_PROMETHEUS_AUTH_TYPE=jwt)
description:
  - Returns a JWT signed with HS512 by the secret key of O(access_key), with the claims MinIO checks
    (C(sub) the access key, C(iss) C(prometheus), C(exp)), the same shape C(mc admin prometheus generate) writes.
  - The token is derived only from its inputs and a fixed expiry, so it is the same on every run and needs no
    storage of its own; the stored secret is the user's (e.g. the credential C(minio/prometheus)). Rotating that
    secret rotates the token.
  - The user needs a policy allowing C(admin:Prometheus) (the minio role creates it).
options:
  access_key:
    description: Access key of the user that signs.
    type: str
    required: true
  secret_key:
    description: Secret key of that user.
    type: str
    required: true
  expires_at:
    description: Expiry as a Unix time; by default 2100-01-01.
    type: int
    default: 4102444800
"""

EXAMPLES = r"""
- name: Scrape MinIO's cluster metrics
  ansible.builtin.uri:
    url: https://10.0.0.5:9000/minio/v2/metrics/cluster
    headers:
      Authorization: "Bearer {{ lookup('llm_infra.cluster.minio_prometheus_token', access_key='prometheus',
        secret_key=lookup('llm_infra.cluster.credential', 'minio/prometheus')) }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description: One token.
  type: list
  elements: str
"""

import base64
import hashlib
import hmac
import json

from ansible.plugins.lookup import LookupBase


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(access_key, secret_key, expires_at):
    header = _b64(json.dumps({"alg": "HS512", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = _b64(json.dumps({"exp": int(expires_at), "sub": access_key, "iss": "prometheus"},
                             separators=(",", ":")).encode())
    signing_input = (header + "." + claims).encode()
    signature = _b64(hmac.new(secret_key.encode(), signing_input, hashlib.sha512).digest())
    return header + "." + claims + "." + signature


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        return [make_token(self.get_option("access_key"), self.get_option("secret_key"), self.get_option("expires_at"))]

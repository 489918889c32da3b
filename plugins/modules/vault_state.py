# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: make one Vault/OpenBao API path hold the given values, writing only when they differ."""

from __future__ import annotations

DOCUMENTATION = r"""
module: vault_state
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.2.0
short_description: Ensure a Vault or OpenBao API path holds the given values (read, compare, write)
description:
  - Reads O(read_path) (default O(path)) through the HTTP API, compares O(data) with what the server returns,
    and writes O(data) to O(path) only when a value differs or the path does not exist yet.
  - The comparison is a subset comparison. Keys the server returns but O(data) does not name are ignored.
    Durations given as strings (C(72h), C(30m), C(3600)) equal the seconds the server returns, a
    comma separated string equals the list the server returns, and an empty list or string equals a null.
  - Works with HashiCorp Vault and OpenBao; needs only the Python standard library on the managed host.
  - Values are never returned; only the names of the keys that differed.
options:
  url:
    description: Base URL of the server, without C(/v1), e.g. C(https://127.0.0.1:8200).
    type: str
    required: true
  token:
    description: Token sent as C(X-Vault-Token).
    type: str
    required: true
  ca_cert:
    description: CA bundle that verifies the server certificate; empty uses the system trust store.
    type: path
    default: ""
  path:
    description: API path to write, relative to C(/v1/), e.g. C(sys/policies/acl/postgresql).
    type: str
    required: true
  read_path:
    description: API path to read for the comparison when it differs from O(path).
    type: str
  data:
    description: Values the path must hold.
    type: dict
    default: {}
  method:
    description: HTTP method of the write.
    type: str
    default: POST
    choices: [POST, PUT]
  timeout:
    description: Seconds to wait for each request.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    description: Reads and compares, never writes.
"""

EXAMPLES = r"""
- name: Grant postgresql read access to its own secrets
  llm_infra.cluster.vault_state:
    url: https://127.0.0.1:8200
    ca_cert: /etc/openbao/tls/ca.crt
    token: "{{ vault_token }}"
    path: sys/policies/acl/postgresql
    data:
      policy: |
        path "secret/data/llm-infra/postgresql/*" { capabilities = ["read"] }
  no_log: true

- name: Enable KV version 2 at secret/
  llm_infra.cluster.vault_state:
    url: https://127.0.0.1:8200
    ca_cert: /etc/openbao/tls/ca.crt
    token: "{{ vault_token }}"
    path: sys/mounts/secret
    data:
      type: kv
      options:
        version: "2"
  no_log: true
"""

RETURN = r"""
existed:
  description: Whether the path existed before the module ran.
  type: bool
  returned: always
differences:
  description: Names of the keys whose values differed (values are never returned).
  type: list
  elements: str
  returned: always
"""

import json
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.urls import open_url

DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(value):
    """Seconds of a duration string such as '72h', or None when the value is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = DURATION_RE.match(value)
        if match:
            return int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    return None


def values_equal(desired, actual):
    """Compare one desired value with the server's, allowing the server's normal forms."""
    # An empty list or string asks for "nothing set", which the server answers with null for some keys.
    if actual is None and desired in ([], "", {}):
        return True
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return False
        return not differing_keys(desired, actual)
    if isinstance(desired, bool) or isinstance(actual, bool):
        if isinstance(desired, str):
            desired = desired.lower() in ("true", "yes", "1")
        if isinstance(actual, str):
            actual = actual.lower() in ("true", "yes", "1")
        return desired == actual
    if isinstance(desired, str) and isinstance(actual, list):
        desired = [item.strip() for item in desired.split(",") if item.strip()]
    if isinstance(desired, list) and isinstance(actual, str):
        actual = [item.strip() for item in actual.split(",") if item.strip()]
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(desired) != len(actual):
            return False
        return all(values_equal(d, a) for d, a in zip(desired, actual))
    if isinstance(actual, int) and not isinstance(desired, int):
        return duration_seconds(desired) == actual
    if isinstance(desired, str) and isinstance(actual, str):
        return desired.strip() == actual.strip()
    if isinstance(desired, int) and isinstance(actual, str):
        return str(desired) == actual
    return desired == actual


def differing_keys(desired, actual):
    """Names of the keys of `desired` that `actual` lacks or holds with another value."""
    return sorted(key for key, value in desired.items() if key not in actual or not values_equal(value, actual[key]))


class VaultClient:
    def __init__(self, url, token, ca_cert, timeout):
        self.url = url.rstrip("/")
        self.token = token
        self.ca_cert = ca_cert or None
        self.timeout = timeout

    def request(self, method, path, data=None):
        """Return (status, decoded body); 4xx/5xx answers are returned, not raised."""
        body = None if data is None else json.dumps(data)
        headers = {"X-Vault-Token": self.token, "Content-Type": "application/json"}
        try:
            response = open_url(
                "%s/v1/%s" % (self.url, path.lstrip("/")),
                method=method,
                data=body,
                headers=headers,
                ca_path=self.ca_cert,
                validate_certs=True,
                timeout=self.timeout,
                follow_redirects="all",
            )
            status, raw = response.getcode(), response.read()
        except HTTPError as error:
            status, raw = error.code, error.read()
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {"errors": [raw.decode("utf-8", "replace")[:200]]}
        return status, decoded

    def read(self, path):
        """The data at `path`, or None when it does not exist."""
        status, body = self.request("GET", path)
        if status == 404:
            return None
        # Mount and auth paths answer 400 "No secret engine mount at ..." when absent.
        if status == 400 and any(str(e).startswith(("No ", "no handler")) for e in body.get("errors", [])):
            return None
        if status >= 400:
            raise VaultError("reading %s failed with HTTP %s: %s" % (path, status, "; ".join(map(str, body.get("errors", [])))))
        data = body.get("data")
        return data if isinstance(data, dict) else body


class VaultError(Exception):
    pass


def run(module, client):
    params = module.params
    read_path = params["read_path"] or params["path"]
    current = client.read(read_path)
    if current is None:
        differences = sorted(params["data"])
    else:
        differences = differing_keys(params["data"], current)
    changed = current is None or bool(differences)
    if changed and not module.check_mode:
        status, body = client.request(params["method"], params["path"], params["data"])
        if status >= 400:
            raise VaultError("writing %s failed with HTTP %s: %s" % (params["path"], status, "; ".join(map(str, body.get("errors", [])))))
    return {"changed": changed, "existed": current is not None, "differences": differences}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            token=dict(type="str", required=True, no_log=True),
            ca_cert=dict(type="path", default=""),
            path=dict(type="str", required=True),
            read_path=dict(type="str"),
            data=dict(type="dict", default={}),
            method=dict(type="str", default="POST", choices=["POST", "PUT"]),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    client = VaultClient(module.params["url"], module.params["token"], module.params["ca_cert"], module.params["timeout"])
    try:
        result = run(module, client)
    except VaultError as error:
        module.fail_json(msg=str(error))
    except Exception as error:  # pylint: disable=broad-except
        module.fail_json(msg="request to %s failed: %s" % (module.params["url"], error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

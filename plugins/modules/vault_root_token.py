# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: a short-lived root token for one run, from a still valid token or from the unseal keys; revoke it after."""

from __future__ import annotations

DOCUMENTATION = r"""
module: vault_root_token
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.3.0
short_description: Obtain a short-lived Vault or OpenBao root token for one run, and revoke it afterwards
description:
  - "O(state=present): when O(token) is still valid (the initial root token before bootstrap finished, or a token an
    operator passes in) it is used; otherwise a root token is generated with the unseal (or recovery) keys through
    the C(sys/generate-root) endpoints, as C(operator generate-root) does (one-time password, XOR decoding). From it
    an orphan root token with the lifetime O(ttl) is created and returned, and the source token is revoked when
    O(revoke_source) is true. A run that dies half way therefore leaves no root token that lives longer than O(ttl)."
  - "O(state=absent): revokes O(token) (C(auth/token/revoke-self)); a token that is already invalid changes nothing."
  - "OpenBao 2.5.3 and later answer C(sys/generate-root) only on a listener with
    C(disable_unauthed_generate_root_endpoints = false); the vault role sets it on the loopback listener only."
  - Tokens and keys are never logged; the task still needs C(no_log) because the token is returned.
options:
  url:
    description: Base URL of the server, without C(/v1), e.g. C(https://127.0.0.1:8200).
    type: str
    required: true
  ca_cert:
    description: CA bundle that verifies the server certificate; empty uses the system trust store.
    type: path
    default: ""
  state:
    description: V(present) returns a short-lived root token; V(absent) revokes O(token).
    type: str
    default: present
    choices: [present, absent]
  token:
    description:
      - O(state=present) a token to try before generating one (its policies must include C(root)); O(state=absent) the
        token to revoke.
    type: str
    default: ""
  keys:
    description: Unseal keys (Shamir) or recovery keys (auto-unseal), base64 or hex; at least the threshold many.
    type: list
    elements: str
    default: []
  ttl:
    description: Lifetime of the returned orphan root token.
    type: str
    default: 1h
  revoke_source:
    description: Revoke the valid or generated source token once the short-lived one exists.
    type: bool
    default: true
  display_name:
    description: Display name of the returned token (shown in the audit log).
    type: str
    default: llm-infra-run
  timeout:
    description: Seconds to wait for each request.
    type: int
    default: 30
attributes:
  check_mode:
    support: none
    description: A token is obtained or revoked even in check mode, since the reads of the run need it.
"""

EXAMPLES = r"""
- name: Obtain a root token for this run from the unseal keys
  llm_infra.cluster.vault_root_token:
    url: https://127.0.0.1:8200
    ca_cert: /etc/openbao/tls/ca.crt
    token: "{{ init.root_token }}"
    keys: "{{ init.keys_base64 }}"
  register: root
  no_log: true

- name: Revoke it at the end of the run
  llm_infra.cluster.vault_root_token:
    url: https://127.0.0.1:8200
    ca_cert: /etc/openbao/tls/ca.crt
    state: absent
    token: "{{ root.token }}"
  no_log: true
"""

RETURN = r"""
token:
  description: The short-lived orphan root token (O(state=present)).
  type: str
  returned: success and state is present
source:
  description: Where the power came from, V(token) (O(token) was valid) or V(generated) (the keys).
  type: str
  returned: success and state is present
source_revoked:
  description: Whether the source token was revoked.
  type: bool
  returned: success and state is present
"""

import base64
import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.urls import open_url


class VaultError(Exception):
    pass


def decode_token(encoded, otp):
    """The root token: the base64 (unpadded in newer servers) of its bytes XOR the one-time password."""
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    if len(raw) != len(otp):
        raise VaultError("the encoded root token (%d bytes) does not match the one-time password (%d)" % (len(raw), len(otp)))
    return bytes(a ^ b for a, b in zip(raw, otp.encode())).decode()


class Client:
    def __init__(self, url, ca_cert, timeout):
        self.url = url.rstrip("/")
        self.ca_cert = ca_cert or None
        self.timeout = timeout

    def request(self, method, path, data=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["X-Vault-Token"] = token
        try:
            response = open_url(
                "%s/v1/%s" % (self.url, path),
                method=method,
                data=None if data is None else json.dumps(data),
                headers=headers,
                ca_path=self.ca_cert,
                validate_certs=True,
                timeout=self.timeout,
            )
            status, raw = response.getcode(), response.read()
        except HTTPError as error:
            status, raw = error.code, error.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"errors": [raw.decode("utf-8", "replace")[:200]]}
        return status, body

    def expect(self, status, body, what, ok=(200, 204)):
        if status not in ok:
            raise VaultError("%s failed with HTTP %s: %s" % (what, status, "; ".join(map(str, body.get("errors", [])))))
        return body


def token_policies(client, token):
    """The policies of `token`, or None when the server refuses it (revoked, expired, unknown)."""
    if not token:
        return None
    status, body = client.request("GET", "auth/token/lookup-self", token=token)
    if status == 403:
        return None
    # Anything else (a sealed or leaderless member) is no answer about the token: stop rather than guess.
    body = client.expect(status, body, what="looking up the token", ok=(200,))
    return (body.get("data") or {}).get("policies") or []


def generate_root(client, keys):
    """A new root token from the keys, through sys/generate-root with a server-chosen one-time password."""
    status = client.expect(*client.request("GET", "sys/generate-root/attempt"), what="reading sys/generate-root/attempt", ok=(200,))
    if status.get("started"):
        raise VaultError(
            "a root token generation is already in progress (nonce %s): finish it, or cancel it with "
            "`operator generate-root -cancel`, then run again" % status.get("nonce")
        )
    attempt = client.expect(*client.request("PUT", "sys/generate-root/attempt", {}), what="starting a root token generation")
    nonce, otp = attempt.get("nonce"), attempt.get("otp")
    if not nonce or not otp:
        raise VaultError("the server started no root token generation with a one-time password (got %s)" % sorted(attempt))
    try:
        for key in keys:
            progress = client.expect(*client.request("PUT", "sys/generate-root/update", {"key": key, "nonce": nonce}),
                                     what="entering a key for the root token generation")
            if progress.get("complete"):
                encoded = progress.get("encoded_token") or progress.get("encoded_root_token")
                return decode_token(encoded, otp)
        raise VaultError("the root token generation needs %s keys, %d were given" % (attempt.get("required"), len(keys)))
    except BaseException:
        # Leave no half-done attempt behind: the next run (or the operator) could not start one.
        client.request("DELETE", "sys/generate-root/attempt")
        raise


def obtain(client, params):
    source_token, source = params["token"], "token"
    policies = token_policies(client, source_token)
    if policies is None or "root" not in policies:
        if not params["keys"]:
            raise VaultError(
                "no valid root token and no keys: the initial root token is revoked once bootstrap is done; give the "
                "unseal (or recovery) keys, or a token from `operator generate-root` run by the key holders"
            )
        source_token, source = generate_root(client, params["keys"]), "generated"
    created = client.expect(
        *client.request("POST", "auth/token/create-orphan",
                        {"policies": ["root"], "ttl": params["ttl"], "renewable": False, "display_name": params["display_name"]},
                        token=source_token),
        what="creating the short-lived root token",
    )
    token = created["auth"]["client_token"]
    revoked = False
    if params["revoke_source"]:
        client.expect(*client.request("POST", "auth/token/revoke-self", token=source_token), what="revoking the source token")
        revoked = True
    # Revoking a token that this call generated leaves nothing changed; revoking one that existed before does not.
    changed = revoked and source == "token"
    return {"changed": changed, "token": token, "source": source, "source_revoked": revoked}


def revoke(client, params):
    if token_policies(client, params["token"]) is None:
        return {"changed": False}
    client.expect(*client.request("POST", "auth/token/revoke-self", token=params["token"]), what="revoking the token")
    return {"changed": True}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            ca_cert=dict(type="path", default=""),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            token=dict(type="str", default="", no_log=True),
            keys=dict(type="list", elements="str", default=[], no_log=True),
            ttl=dict(type="str", default="1h"),
            revoke_source=dict(type="bool", default=True),
            display_name=dict(type="str", default="llm-infra-run"),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=False,
    )
    client = Client(module.params["url"], module.params["ca_cert"], module.params["timeout"])
    try:
        result = obtain(client, module.params) if module.params["state"] == "present" else revoke(client, module.params)
    except VaultError as error:
        module.fail_json(msg=str(error))
    except Exception as error:  # pylint: disable=broad-except
        module.fail_json(msg="request to %s failed: %s" % (module.params["url"], error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

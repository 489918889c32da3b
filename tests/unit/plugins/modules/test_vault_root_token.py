"""The vault_root_token module against a real OpenBao (raft, Shamir keys): the emergency path and its clean-up."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from ansible_collections.llm_infra.cluster.plugins.modules import vault_root_token

BAO = os.path.expanduser("~/.cache/llm-infra/test-artifacts/openbao-2.7.2/bao")


def _port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(url, method, path, data=None, token=None):
    headers = {"X-Vault-Token": token} if token else {}
    req = urllib.request.Request(url + "/v1/" + path, method=method, headers=headers,
                                 data=None if data is None else json.dumps(data).encode())
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else {}


@pytest.fixture(scope="module")
def bao_raft(tmp_path_factory):
    """An initialised, unsealed one-node raft server with 3 key shares (threshold 2), configured like the role's
    loopback listener (unauthenticated generate-root allowed there)."""
    if not os.path.isfile(BAO):
        pytest.skip("the OpenBao test binary is missing: run scripts/fetch-test-artifacts.sh")
    base = tmp_path_factory.mktemp("bao-raft")
    api, cluster = _port(), _port()
    (base / "data").mkdir()
    (base / "server.hcl").write_text(
        'storage "raft" {\n  path = "%s"\n  node_id = "n1"\n}\n'
        'listener "tcp" {\n  address = "127.0.0.1:%d"\n  tls_disable = true\n'
        '  disable_unauthed_generate_root_endpoints = false\n}\n'
        'api_addr = "http://127.0.0.1:%d"\ncluster_addr = "http://127.0.0.1:%d"\n' % (base / "data", api, api, cluster)
    )
    log = open(base / "server.log", "w+")
    proc = subprocess.Popen([BAO, "server", "-config=%s" % (base / "server.hcl")], stdout=log, stderr=subprocess.STDOUT)
    url = "http://127.0.0.1:%d" % api
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _call(url, "GET", "sys/seal-status")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail("OpenBao did not answer:\n%s" % log.read()[-3000:])
            time.sleep(0.2)
        status, init = _call(url, "PUT", "sys/init", {"secret_shares": 3, "secret_threshold": 2})
        assert status == 200, init
        for key in init["keys_base64"][:2]:
            _call(url, "PUT", "sys/unseal", {"key": key})
        deadline = time.monotonic() + 60
        while _call(url, "GET", "sys/health")[0] != 200:
            assert time.monotonic() < deadline, "no active leader"
            time.sleep(0.2)
        yield url, init
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _params(**kwargs):
    params = {"token": "", "keys": [], "ttl": "1h", "revoke_source": True, "display_name": "llm-infra-run"}
    params.update(kwargs)
    return params


def _policies(url, token):
    status, body = _call(url, "GET", "auth/token/lookup-self", token=token)
    return body["data"]["policies"] if status == 200 else None


def test_decode_token_is_the_xor_of_the_otp():
    otp = "PE5h2ePexecc6Leaih5beugD4F"
    token = "s.kSSBPiH9HMxPt4JHHBqU6R4a"
    encoded = __import__("base64").b64encode(bytes(a ^ b for a, b in zip(token.encode(), otp.encode()))).decode().rstrip("=")
    assert vault_root_token.decode_token(encoded, otp) == token


def test_decode_token_refuses_a_length_mismatch():
    with pytest.raises(vault_root_token.VaultError, match="does not match"):
        vault_root_token.decode_token("AAAA", "otp-of-another-length")


def test_initial_root_token_is_replaced_by_a_short_lived_one_and_revoked(bao_raft):
    url, init = bao_raft
    client = vault_root_token.Client(url, "", 10)
    result = vault_root_token.obtain(client, _params(token=init["root_token"], ttl="10m"))
    assert result["source"] == "token" and result["changed"] and result["source_revoked"]
    assert _policies(url, init["root_token"]) is None, "the initial root token still works"
    status, body = _call(url, "GET", "auth/token/lookup-self", token=result["token"])
    assert status == 200 and body["data"]["policies"] == ["root"] and body["data"]["orphan"]
    assert 0 < body["data"]["ttl"] <= 600
    assert vault_root_token.revoke(client, _params(token=result["token"])) == {"changed": True}
    assert _policies(url, result["token"]) is None
    assert vault_root_token.revoke(client, _params(token=result["token"])) == {"changed": False}


def test_emergency_path_generates_a_root_from_the_keys(bao_raft):
    url, init = bao_raft
    client = vault_root_token.Client(url, "", 10)
    # The initial token is gone (previous test or here): the keys are the only way in.
    vault_root_token.revoke(client, _params(token=init["root_token"]))
    result = vault_root_token.obtain(client, _params(token=init["root_token"], keys=init["keys_base64"][:2]))
    assert result["source"] == "generated" and not result["changed"]
    assert _policies(url, result["token"]) == ["root"]
    # No root generation is left in progress for the next caller.
    assert _call(url, "GET", "sys/generate-root/attempt")[1]["started"] is False
    vault_root_token.revoke(client, _params(token=result["token"]))


def test_too_few_keys_fail_and_leave_no_attempt(bao_raft):
    url, init = bao_raft
    client = vault_root_token.Client(url, "", 10)
    with pytest.raises(vault_root_token.VaultError, match="needs 2 keys, 1 were given"):
        vault_root_token.obtain(client, _params(keys=init["keys_base64"][:1]))
    assert _call(url, "GET", "sys/generate-root/attempt")[1]["started"] is False


def test_no_token_and_no_keys_is_refused_with_the_way_out(bao_raft):
    url, _init = bao_raft
    client = vault_root_token.Client(url, "", 10)
    with pytest.raises(vault_root_token.VaultError, match="operator generate-root"):
        vault_root_token.obtain(client, _params(token="s.not-a-token"))


def test_a_pending_attempt_of_someone_else_is_not_cancelled(bao_raft):
    url, init = bao_raft
    client = vault_root_token.Client(url, "", 10)
    _call(url, "PUT", "sys/generate-root/attempt", {})
    try:
        with pytest.raises(vault_root_token.VaultError, match="already in progress"):
            vault_root_token.obtain(client, _params(keys=init["keys_base64"][:2]))
        assert _call(url, "GET", "sys/generate-root/attempt")[1]["started"] is True
    finally:
        _call(url, "DELETE", "sys/generate-root/attempt")

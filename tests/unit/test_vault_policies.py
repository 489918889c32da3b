"""The vault role's policy templates, rendered and loaded into a real OpenBao: what the automation may and may not do."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import jinja2
import pytest

REPO = Path(__file__).resolve().parents[2]
BAO = os.path.expanduser("~/.cache/llm-infra/test-artifacts/openbao-2.7.2/bao")
VARS = {
    "vault_kv_mount": "secret",
    "vault_kv_prefix": "llm-infra",
    "vault_pki_int_mount": "pki_int",
    "vault_automation_pki_roles": ["server"],
    "vault_services": [{"name": "postgresql", "pki_role": "server"}, {"name": "minio"}],
}


def render(name, **extra):
    text = (REPO / "roles" / "vault" / "templates" / "policies" / name).read_text()
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text).render(dict(VARS, **extra))


def test_automation_policy_names_no_wildcard_role():
    policy = render("automation.hcl.j2")
    assert "role/+/" not in policy and "sign/*" not in policy and "issue/*" not in policy
    assert 'path "auth/approle/role/postgresql/secret-id"' in policy
    assert 'path "pki_int/issue/server"' in policy


@pytest.fixture(scope="module")
def bao_dev(tmp_path_factory):
    if not os.path.isfile(BAO):
        pytest.skip("the OpenBao test binary is missing: run scripts/fetch-test-artifacts.sh")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(tmp_path_factory.mktemp("bao-policy") / "server.log", "w+")
    proc = subprocess.Popen([BAO, "server", "-dev", "-dev-root-token-id=root", "-dev-listen-address=127.0.0.1:%d" % port],
                            stdout=log, stderr=subprocess.STDOUT)
    url = "http://127.0.0.1:%d" % port

    def call(method, path, data=None, token="root"):
        req = urllib.request.Request(url + "/v1/" + path, method=method, headers={"X-Vault-Token": token},
                                     data=None if data is None else json.dumps(data).encode())
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as error:
            return error.code, {}

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if call("GET", "sys/health")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the OpenBao dev server did not answer"
            time.sleep(0.2)
        yield call
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_automation_policy_in_openbao(bao_dev):
    call = bao_dev
    assert call("PUT", "sys/policies/acl/llm-infra-automation", {"policy": render("automation.hcl.j2")})[0] == 204
    status, body = call("POST", "auth/token/create", {"policies": ["llm-infra-automation"], "no_default_policy": True, "ttl": "5m"})
    assert status == 200
    token = body["auth"]["client_token"]
    paths = {
        "auth/approle/role/postgresql/secret-id": ["create", "update"],
        "auth/approle/role/minio/secret-id": ["create", "update"],
        "auth/approle/role/llm-infra-automation/secret-id": ["deny"],
        "auth/approle/role/llm-infra-automation/custom-secret-id": ["deny"],
        "auth/approle/role/stranger/secret-id": ["deny"],
        "auth/approle/role/postgresql": ["deny"],
        "pki_int/issue/server": ["create", "update"],
        "pki_int/sign/server": ["create", "update"],
        "pki_int/issue/client": ["deny"],
        "pki_int/sign-verbatim/server": ["deny"],
        "pki_int/root/sign-intermediate": ["deny"],
        "secret/data/llm-infra/postgresql/app": ["create", "patch", "read", "update"],
        "sys/policies/acl/llm-infra-automation": ["deny"],
        "sys/generate-root-token/attempt": ["deny"],
    }
    status, body = call("POST", "sys/capabilities", {"token": token, "paths": list(paths)})
    assert status == 200
    got = {path: sorted(body[path]) for path in paths}
    assert got == {path: sorted(caps) for path, caps in paths.items()}


def test_snapshot_policy_in_openbao(bao_dev):
    call = bao_dev
    policy = render("snapshot.hcl.j2", __vault_snapshot_service="openbao-snapshot")
    assert call("PUT", "sys/policies/acl/llm-infra-snapshot", {"policy": policy})[0] == 204
    status, body = call("POST", "auth/token/create", {"policies": ["llm-infra-snapshot"], "no_default_policy": True, "ttl": "5m"})
    assert status == 200
    token = body["auth"]["client_token"]
    # Taking a snapshot only: no restore, no secret, no configuration, no other raft operation.
    paths = {
        "sys/storage/raft/snapshot": ["read"],
        "sys/storage/raft/snapshot-force": ["deny"],
        "sys/storage/raft/remove-peer": ["deny"],
        "secret/data/llm-infra/postgresql/app": ["deny"],
        "pki_int/issue/server": ["deny"],
        "auth/approle/role/llm-infra-snapshot/secret-id": ["deny"],
        "sys/policies/acl/llm-infra-snapshot": ["deny"],
    }
    status, body = call("POST", "sys/capabilities", {"token": token, "paths": list(paths)})
    assert status == 200
    got = {path: sorted(body[path]) for path in paths}
    assert got == {path: sorted(caps) for path, caps in paths.items()}

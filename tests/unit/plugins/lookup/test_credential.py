import json
import multiprocessing
import os
import re
import stat
import subprocess
import sys
import time

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.llm_infra.cluster.plugins.lookup import credential

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def test_generates_once_and_returns_the_same_value(tmp_path):
    first = credential.read_or_create(str(tmp_path), "postgresql/app")
    second = credential.read_or_create(str(tmp_path), "postgresql/app")
    assert first == second
    assert len(first) == 32
    assert first.isalnum()


def test_store_permissions_are_private(tmp_path):
    store = tmp_path / "credentials"
    credential.read_or_create(str(store), "postgresql/app")
    assert stat.S_IMODE(os.stat(store / "postgresql").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store / "postgresql" / "app").st_mode) == 0o600
    # No temporary file is left beside the secret.
    assert sorted(os.listdir(store / "postgresql")) == ["app"]


def test_existing_secret_is_kept(tmp_path):
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "key").write_text("an-existing-password-that-works\n")
    assert credential.read_or_create(str(tmp_path), "svc/key") == "an-existing-password-that-works"


def test_distinct_names_get_distinct_values(tmp_path):
    values = {credential.read_or_create(str(tmp_path), "svc/n%d" % i) for i in range(20)}
    assert len(values) == 20


@pytest.mark.parametrize("chars,alphabet", [("hex", set("0123456789abcdef")), ("urlsafe", set(credential.ALPHABETS["urlsafe"]))])
def test_alphabet_and_length(tmp_path, chars, alphabet):
    value = credential.read_or_create(str(tmp_path), "svc/" + chars, length=48, chars=chars)
    assert len(value) == 48
    assert set(value) <= alphabet


@pytest.mark.parametrize("name", ["../escape", "/abs/path", "svc/../../x", "svc//x", "", "svc/a b", "svc/."])
def test_invalid_names_are_rejected(tmp_path, name):
    with pytest.raises(AnsibleLookupError, match="invalid"):
        credential.read_or_create(str(tmp_path), name)


def test_short_length_is_rejected(tmp_path):
    with pytest.raises(AnsibleLookupError, match="at least 16"):
        credential.read_or_create(str(tmp_path), "svc/short", length=8)


def test_missing_without_create_is_an_error(tmp_path):
    with pytest.raises(AnsibleLookupError, match="does not exist"):
        credential.read_or_create(str(tmp_path), "svc/absent", create=False)


def _worker(store, queue):
    queue.put(credential.read_or_create(store, "race/secret"))


def values_from_forks(target, args, count):
    """Run `target(*args, queue)` in `count` forked processes, as Ansible forks would; return what they put."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, queue)) for dummy in range(count)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    return [queue.get(timeout=5) for dummy in procs]


def test_concurrent_callers_get_one_value(tmp_path):
    assert len(set(values_from_forks(_worker, (str(tmp_path),), 12))) == 1


def test_lookup_through_ansible_uses_the_configured_store(tmp_path):
    """The plugin as Ansible loads it: store from llm_infra_credentials_dir, value stable across runs."""
    store = tmp_path / "store"
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "ansible"),
        "localhost",
        "-c", "local",
        "-i", "localhost,",
        "-m", "ansible.builtin.debug",
        "-a", "msg={{ lookup('llm_infra.cluster.credential', 'svc/api') }}",
        "-e", "llm_infra_credentials_dir=%s" % store,
    ]
    outputs = []
    for dummy in range(2):
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        match = re.search(r'"?msg"?: "?([A-Za-z0-9]{32})\b', proc.stdout)
        assert match, proc.stdout
        outputs.append(match.group(1))
    assert outputs[0] == outputs[1]
    assert (store / "svc" / "api").read_text().strip() == outputs[0]


# --- Vault backend -------------------------------------------------------------------------------------------

class FakeKV:
    """KV v2 semantics the lookup relies on: read, and create with cas=0 that fails when a version exists."""

    def __init__(self, data=None, race_value=None):
        self.data = dict(data or {})
        self.race_value = race_value
        self.writes = []

    def read(self, name):
        return self.data.get(name)

    def create(self, name, value):
        if self.race_value is not None and name not in self.data:
            # Another fork wrote between this one's read and its write.
            self.data[name] = self.race_value
        if name in self.data:
            return False
        self.writes.append((name, value))
        self.data[name] = value
        return True


def test_vault_returns_the_kv_value_and_ignores_the_file(tmp_path):
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "key").write_text("stale-file-value\n")
    kv = FakeKV({"svc/key": "kv-value"})
    assert credential.read_or_create_vault(kv, str(tmp_path), "svc/key") == "kv-value"
    assert kv.writes == []


def test_vault_migrates_a_working_file_value_unchanged(tmp_path):
    (tmp_path / "postgresql").mkdir()
    (tmp_path / "postgresql" / "app").write_text("the-password-that-works\n")
    kv = FakeKV()
    assert credential.read_or_create_vault(kv, str(tmp_path), "postgresql/app") == "the-password-that-works"
    assert kv.writes == [("postgresql/app", "the-password-that-works")]
    # KV wins afterwards, even when the file changes.
    (tmp_path / "postgresql" / "app").write_text("edited-later\n")
    assert credential.read_or_create_vault(kv, str(tmp_path), "postgresql/app") == "the-password-that-works"


def test_vault_generates_into_kv_only(tmp_path):
    kv = FakeKV()
    value = credential.read_or_create_vault(kv, str(tmp_path), "svc/new", length=40)
    assert len(value) == 40 and kv.data["svc/new"] == value
    assert not (tmp_path / "svc").exists(), "a Vault-backed secret must not be written to the file store"


def test_vault_race_returns_the_winner(tmp_path):
    kv = FakeKV(race_value="written-by-another-fork")
    assert credential.read_or_create_vault(kv, str(tmp_path), "svc/race") == "written-by-another-fork"


def test_vault_missing_without_create_is_an_error(tmp_path):
    with pytest.raises(AnsibleLookupError, match="neither in Vault"):
        credential.read_or_create_vault(FakeKV(), str(tmp_path), "svc/absent", create=False)


@pytest.mark.parametrize(
    "backend,name,explicit_store,vault_hosts,expected",
    [
        ("auto", "postgresql/app", False, ["vault-1"], True),
        ("auto", "postgresql/app", False, [], False),
        ("auto", "vault/automation-secret-id", False, ["vault-1"], False),
        ("auto", "vault-init.pass", True, ["vault-1"], False),
        ("auto", "postgresql/app", True, ["vault-1"], False),
        ("file", "postgresql/app", False, ["vault-1"], False),
        ("vault", "postgresql/app", False, [], True),
    ],
)
def test_backend_choice(backend, name, explicit_store, vault_hosts, expected):
    assert credential.uses_vault(backend, name, explicit_store, vault_hosts) is expected


BAO = os.path.expanduser("~/.cache/llm-infra/test-artifacts/openbao-2.7.2/bao")


def _bao_server(folder, tls=False):
    """Start a real OpenBao dev server (in memory) with an AppRole like the vault role's automation role.

    Yields (url, ca certificate or None); with tls the server has a generated CA, kept in `folder`.
    """
    if not os.path.isfile(BAO):
        pytest.skip("the OpenBao test binary is missing: run scripts/fetch-test-artifacts.sh")
    import socket
    import ssl
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = "%s://127.0.0.1:%d" % ("https" if tls else "http", port)
    cmd = [BAO, "server", "-dev", "-dev-root-token-id=root", "-dev-listen-address=127.0.0.1:%d" % port]
    if tls:
        cmd += ["-dev-tls", "-dev-tls-cert-dir=%s" % folder]
    ca_cert = os.path.join(folder, "vault-ca.pem") if tls else None
    log = open(os.path.join(folder, "server.log"), "w+")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def call(method, path, data=None):
        req = urllib.request.Request(
            url + "/v1/" + path,
            method=method,
            data=None if data is None else json.dumps(data).encode(),
            headers={"X-Vault-Token": "root"},
        )
        context = ssl.create_default_context(cafile=ca_cert) if tls else None
        with urllib.request.urlopen(req, timeout=60, context=context) as resp:
            return resp.read()

    try:
        # The 180 MB static binary takes several seconds to start, more on a loaded machine.
        deadline = time.monotonic() + 90
        while True:
            try:
                if tls and not os.path.isfile(ca_cert):
                    raise OSError("the CA is not written yet")
                call("GET", "sys/health")
                break
            except Exception:  # noqa: BLE001 - server still starting
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail("the OpenBao dev server did not answer (exit code %s):\n%s" % (proc.poll(), log.read()[-4000:]))
                time.sleep(0.2)
        call("POST", "sys/auth/approle", {"type": "approle"})
        # As the vault role's automation policy: read and write the values, read and list the metadata.
        call(
            "PUT",
            "sys/policies/acl/auto",
            {
                "policy": 'path "secret/data/llm-infra/*" { capabilities = ["create", "read", "update"] }\n'
                'path "secret/metadata/llm-infra/*" { capabilities = ["read", "list"] }'
            },
        )
        call("POST", "auth/approle/role/auto", {"token_policies": ["auto"]})
        call("POST", "auth/approle/role/auto/role-id", {"role_id": "test-role-id"})
        call("POST", "auth/approle/role/auto/custom-secret-id", {"secret_id": "test-secret-id"})
        yield url, ca_cert
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def bao_dev(tmp_path_factory):
    """The URL of a plain-HTTP OpenBao dev server."""
    for url, dummy in _bao_server(str(tmp_path_factory.mktemp("bao"))):
        yield url


@pytest.fixture(scope="module")
def bao_dev_tls(tmp_path_factory):
    """(URL, CA certificate) of an OpenBao dev server behind TLS with its own generated CA."""
    yield from _bao_server(str(tmp_path_factory.mktemp("bao-tls")), tls=True)


def _vault_worker(url, store, name, queue):
    kv = credential.VaultKV(url)
    kv.login("test-role-id", "test-secret-id")
    queue.put(credential.read_or_create_vault(kv, store, name))


def test_real_openbao_concurrent_forks_agree(bao_dev, tmp_path):
    assert len(set(values_from_forks(_vault_worker, (bao_dev, str(tmp_path), "race/kv"), 10))) == 1


def test_real_openbao_migration_keeps_the_file_value(bao_dev, tmp_path):
    (tmp_path / "postgresql").mkdir()
    (tmp_path / "postgresql" / "app").write_text("working-password-0123456789\n")
    kv = credential.VaultKV(bao_dev)
    kv.login("test-role-id", "test-secret-id")
    assert credential.read_or_create_vault(kv, str(tmp_path), "postgresql/app") == "working-password-0123456789"
    (tmp_path / "postgresql" / "app").write_text("changed-afterwards\n")
    assert kv.read("postgresql/app") == "working-password-0123456789"
    assert credential.read_or_create_vault(kv, str(tmp_path), "postgresql/app") == "working-password-0123456789"


def test_real_openbao_wrong_secret_id_is_refused(bao_dev):
    kv = credential.VaultKV(bao_dev)
    with pytest.raises(AnsibleLookupError, match="AppRole login"):
        kv.login("test-role-id", "wrong-secret-id")


def _cached_kv(url, store):
    return credential.VaultKV(url, token_cache=os.path.join(store, credential.AUTOMATION_TOKEN_CACHE))


def test_real_openbao_forks_share_one_login(bao_dev, tmp_path, monkeypatch):
    monkeypatch.setattr(credential.VaultKV, "_tokens", {})
    first = _cached_kv(bao_dev, str(tmp_path))
    first.login("test-role-id", "test-secret-id")
    assert first.logins == 1
    cache = tmp_path / "vault" / ".automation-token"
    assert oct(cache.stat().st_mode & 0o777) == "0o600"
    # A later fork starts without the in-process cache and takes the token from the file.
    monkeypatch.setattr(credential.VaultKV, "_tokens", {})
    second = _cached_kv(bao_dev, str(tmp_path))
    second.login("test-role-id", "test-secret-id")
    assert second.logins == 0 and second.token == first.token
    assert credential.read_or_create_vault(second, str(tmp_path), "shared/login") == first.read("shared/login")


def test_real_openbao_expired_or_foreign_cache_means_a_new_login(bao_dev, tmp_path, monkeypatch):
    monkeypatch.setattr(credential.VaultKV, "_tokens", {})
    first = _cached_kv(bao_dev, str(tmp_path))
    first.login("test-role-id", "test-secret-id")
    cache = tmp_path / "vault" / ".automation-token"
    entry = json.loads(cache.read_text())
    cache.write_text(json.dumps(dict(entry, expires=time.time() - 1)))
    monkeypatch.setattr(credential.VaultKV, "_tokens", {})
    expired = _cached_kv(bao_dev, str(tmp_path))
    expired.login("test-role-id", "test-secret-id")
    assert expired.logins == 1 and expired.token != first.token
    # An entry for other credentials is never used.
    cache.write_text(json.dumps(dict(entry, key="0" * 64, expires=time.time() + 300)))
    monkeypatch.setattr(credential.VaultKV, "_tokens", {})
    foreign = _cached_kv(bao_dev, str(tmp_path))
    foreign.login("test-role-id", "test-secret-id")
    assert foreign.logins == 1 and foreign.token != entry["token"]


def test_real_openbao_revoked_cached_token_earns_one_fresh_login(bao_dev, tmp_path, monkeypatch):
    monkeypatch.setattr(credential.VaultKV, "_tokens", {})
    first = _cached_kv(bao_dev, str(tmp_path))
    first.login("test-role-id", "test-secret-id")
    first.client.auth.token.revoke_self()
    monkeypatch.setattr(credential.VaultKV, "_tokens", {})
    second = _cached_kv(bao_dev, str(tmp_path))
    second.login("test-role-id", "test-secret-id")
    assert second.logins == 0
    assert credential.read_or_create_vault(second, str(tmp_path), "after/revoke")
    assert second.logins == 1 and second.token != first.token


# --- hvac error mapping against the real server ---------------------------------------------------------------

def test_real_openbao_wrong_secret_id_names_the_fix_and_not_the_secret(bao_dev):
    kv = credential.VaultKV(bao_dev)
    with pytest.raises(AnsibleLookupError) as info:
        kv.login("test-role-id", "wrong-secret-id-d41d8cd9")
    message = str(info.value)
    assert "AppRole login to %s failed with HTTP 400" % bao_dev in message
    assert "vault_automation_bound_cidrs" in message and "playbooks/vault.yml" in message
    assert "wrong-secret-id-d41d8cd9" not in message and "test-role-id" not in message
    assert info.value.__cause__ is None and kv.logins == 0


def test_real_openbao_absent_secret_reads_as_none(bao_dev, tmp_path):
    kv = credential.VaultKV(bao_dev)
    kv.login("test-role-id", "test-secret-id")
    assert kv.read("absent/never-written") is None
    with pytest.raises(AnsibleLookupError, match="neither in Vault nor in"):
        credential.read_or_create_vault(kv, str(tmp_path), "absent/never-written", create=False)


def test_real_openbao_create_is_create_only(bao_dev):
    kv = credential.VaultKV(bao_dev)
    kv.login("test-role-id", "test-secret-id")
    assert kv.create("cas/once", "first-value-0123456789") is True
    assert kv.create("cas/once", "second-value-0123456789") is False
    assert kv.read("cas/once") == "first-value-0123456789"


def test_real_openbao_path_outside_the_policy_is_a_clear_error(bao_dev):
    kv = credential.VaultKV(bao_dev, prefix="elsewhere")
    kv.login("test-role-id", "test-secret-id")
    with pytest.raises(AnsibleLookupError, match=r"(?s)reading credential svc/x from Vault failed with HTTP 403: .*permission denied"):
        kv.read("svc/x")
    with pytest.raises(AnsibleLookupError, match=r"writing credential svc/x to Vault failed with HTTP 403"):
        kv.create("svc/x", "value-that-must-not-show-0123")


def test_unreachable_vault_names_what_the_controller_needs(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kv = credential.VaultKV("http://127.0.0.1:%d" % port, timeout=5)
    with pytest.raises(AnsibleLookupError, match=r"cannot reach Vault at http://127\.0\.0\.1:%d .*vault_api_allow_cidrs" % port) as info:
        kv.login("test-role-id", "secret-never-shown-0123")
    assert "secret-never-shown-0123" not in str(info.value)


def test_real_openbao_tls_with_its_ca(bao_dev_tls, tmp_path):
    url, ca_cert = bao_dev_tls
    kv = credential.VaultKV(url, ca_cert=ca_cert)
    kv.login("test-role-id", "test-secret-id")
    assert credential.read_or_create_vault(kv, str(tmp_path), "tls/ok") == kv.read("tls/ok")


def test_real_openbao_tls_with_a_wrong_ca_is_refused(bao_dev_tls, tmp_path, monkeypatch):
    url, dummy = bao_dev_tls
    # A token from an earlier test's login would skip the request.
    monkeypatch.setattr(credential.VaultKV, "_tokens", {})
    # A CA that did not sign the listener: the other dev server's would do, a fresh self-signed one is simpler.
    wrong = tmp_path / "wrong-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=not-the-vault-ca", "-keyout", str(tmp_path / "wrong-ca.key"), "-out", str(wrong)],
        check=True, capture_output=True,
    )
    kv = credential.VaultKV(url, ca_cert=str(wrong))
    with pytest.raises(AnsibleLookupError, match=r"cannot reach Vault at https://.*(CERTIFICATE_VERIFY_FAILED|certificate verify failed)"):
        kv.login("test-role-id", "test-secret-id")
    # Nor does a token that verified elsewhere get a request through.
    kv.client.token = "s.not-a-real-token"
    with pytest.raises(AnsibleLookupError, match="cannot reach Vault at https://"):
        kv.read("tls/ok")


def test_missing_hvac_names_the_package(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_hvac(name, *args, **kwargs):
        if name == "hvac" or name.startswith("hvac."):
            raise ImportError("No module named 'hvac'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_hvac)
    with pytest.raises(AnsibleLookupError, match="needs the Python package hvac on the controller"):
        credential.VaultKV("http://127.0.0.1:8200")


def test_the_secret_scanner_reads_every_kv_value_through_the_client(bao_dev, tmp_path):
    """scripts/scan-output-for-secrets.py lists the prefix folder by folder and reads each value as the automation."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("scan_output", os.path.join(os.path.dirname(__file__), "../../../../scripts/scan-output-for-secrets.py"))
    scan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scan)
    (tmp_path / "vault").mkdir()
    (tmp_path / "vault" / "automation-role-id").write_text("test-role-id\n")
    (tmp_path / "vault" / "automation-secret-id").write_text("test-secret-id\n")
    kv = credential.VaultKV(bao_dev)
    kv.login("test-role-id", "test-secret-id")
    kv.create("scan/top-level-secret", "scan-value-top-0123456789")
    kv.create("scan/deeper/nested-secret", "scan-value-nested-0123456789")
    found = scan.vault_secrets(tmp_path, bao_dev, "", "secret", "llm-infra")
    assert found["kv:scan/top-level-secret"] == {"scan-value-top-0123456789"}
    assert found["kv:scan/deeper/nested-secret"] == {"scan-value-nested-0123456789"}

"""scripts/scan-output-for-secrets.py finds every kind of stored secret in a log and never prints a value."""

import json
import subprocess
import sys
from pathlib import Path

from ansible.parsing.vault import VaultLib, VaultSecret

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "scan-output-for-secrets.py"
ROOT_TOKEN = "s.rootTokenValue0123456789"
UNSEAL_KEY = "unsealKeyBase64ValueAAAABBBBCCCC=="
KEY_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7examplekeyline"


def _store(tmp_path: Path) -> Path:
    store = tmp_path / "credentials"
    (store / "gateway").mkdir(parents=True)
    (store / "vault").mkdir()
    (store / "ca").mkdir()
    (store / "gateway" / "api-key-team-a").write_text("teamAKeyValue0123456789abcdef\n")
    (store / "vault-init.pass").write_text("initPasswordValue0123456789\n")
    init = json.dumps({"root_token": ROOT_TOKEN, "keys_base64": [UNSEAL_KEY]}).encode()
    vault = VaultLib([("default", VaultSecret(b"initPasswordValue0123456789"))])
    (store / "vault" / "init.json.vault").write_bytes(vault.encrypt(init))
    (store / "ca" / "ca.key").write_text("-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n" % KEY_LINE)
    (store / "ca" / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIBpublicCertificateLineIsNotASecretAtAll0123\n-----END CERTIFICATE-----\n")
    (store / "short").write_text("admin\n")
    return store


def _scan(tmp_path: Path, text: str):
    log = tmp_path / "run.log"
    log.write_text(text)
    return subprocess.run([sys.executable, str(SCRIPT), str(log), "--store", str(_store(tmp_path))],
                          capture_output=True, text=True, check=False)


def test_a_clean_log_passes(tmp_path):
    result = _scan(tmp_path, "TASK [x]\nok: [h] => {'msg': 'admin MIIBpublicCertificateLineIsNotASecretAtAll0123'}\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 secrets (5 values" in result.stdout and ": 0 found" in result.stdout, result.stdout


def test_each_kind_of_secret_is_found_and_named_without_its_value(tmp_path):
    leaks = ["headers: {Authorization: Bearer teamAKeyValue0123456789abcdef}", "token=" + ROOT_TOKEN,
             "key " + UNSEAL_KEY, KEY_LINE, "initPasswordValue0123456789"]
    result = _scan(tmp_path, "\n".join(leaks))
    assert result.returncode == 1
    for name in ("gateway/api-key-team-a", "vault/init.json.vault", "ca/ca.key", "vault-init.pass"):
        assert "the value of %s appears" % name in result.stdout, result.stdout
    for value in (ROOT_TOKEN, UNSEAL_KEY, KEY_LINE, "teamAKeyValue"):
        assert value not in result.stdout + result.stderr

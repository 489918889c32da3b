"""Search a playbook's output for every secret the inventory holds; print how many were found, never a value.

Secrets are collected from the controller's credentials store (every file; private keys by their base64 lines;
files encrypted with ansible-vault are decrypted with the store's *.pass files, which is how the OpenBao init
response with its root token and unseal keys is kept) and, when --vault-url is given, from every KV v2 secret
under the collection's prefix (AppRole login as the automation role, whose ids are in the store).

Exit status: 0 when no secret appears in the output, 1 when one does (the names are printed), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Shorter values (a port, "admin") would match by chance; every generated secret is far longer.
MIN_LENGTH = 12
# Files of the store that hold no secret: certificates, digests of applied configuration, expiry times.
PUBLIC_SUFFIXES = (".crt", ".sha256", ".expires")


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _vault_decrypt(data: bytes, passwords: list[bytes]):
    from ansible.parsing.vault import VaultLib, VaultSecret

    for password in passwords:
        try:
            return VaultLib([("default", VaultSecret(password))]).decrypt(data)
        except Exception:  # noqa: BLE001 - wrong password: try the next
            continue
    return None


def store_secrets(store: Path) -> dict[str, set[str]]:
    """{name: {values}} of every file of the store."""
    secrets: dict[str, set[str]] = {}
    passwords = [p.read_bytes().strip() for p in store.rglob("*.pass") if p.is_file()]
    for path in sorted(p for p in store.rglob("*") if p.is_file()):
        name = path.relative_to(store).as_posix()
        if path.suffix in PUBLIC_SUFFIXES:
            continue
        data = path.read_bytes()
        if data.startswith(b"$ANSIBLE_VAULT"):
            plain = _vault_decrypt(data, passwords)
            if plain is None:
                print("scan: %s is encrypted with no password of the store; its content is not searched" % name, file=sys.stderr)
                continue
            data = plain
        text = data.decode("utf-8", "replace")
        values: set[str] = set()
        if "PRIVATE KEY-----" in text:
            # A key that leaks leaks line by line: each base64 line is a needle.
            values |= {line.strip() for line in text.splitlines() if len(line.strip()) >= 40 and "-----" not in line}
        elif "-----BEGIN CERTIFICATE-----" in text:
            continue
        else:
            try:
                values |= set(_strings(json.loads(text)))
            except ValueError:
                values.add(text.strip())
        values = {v for v in values if len(v) >= MIN_LENGTH}
        if values:
            secrets[name] = values
    return secrets


def vault_secrets(store: Path, url: str, ca_cert: str, mount: str, prefix: str) -> dict[str, set[str]]:
    """Every value under the KV prefix, read with the collection's own client (hvac) as the automation AppRole."""
    from hvac.exceptions import InvalidPath, VaultError

    from ansible_collections.llm_infra.cluster.plugins.lookup.credential import VaultKV, read_file

    kv = VaultKV(url, ca_cert=ca_cert, mount=mount, prefix=prefix)
    kv.login(read_file(str(store), "vault/automation-role-id"), read_file(str(store), "vault/automation-secret-id"))
    kv2 = kv.client.secrets.kv.v2
    secrets: dict[str, set[str]] = {}
    pending = [""]
    while pending:
        folder = pending.pop()
        try:
            keys = kv2.list_secrets(path="%s/%s" % (prefix, folder), mount_point=mount)["data"]["keys"]
        except InvalidPath:
            continue
        except VaultError as error:
            raise SystemExit("scan: listing %s/metadata/%s/%s failed: %s" % (mount, prefix, folder, type(error).__name__)) from None
        for key in keys:
            if key.endswith("/"):
                pending.append(folder + key)
                continue
            try:
                body = kv2.read_secret_version(path="%s/%s%s" % (prefix, folder, key), mount_point=mount, raise_on_deleted_version=True)
            except VaultError as error:
                raise SystemExit("scan: reading %s%s failed: %s" % (folder, key, type(error).__name__)) from None
            values = {v for v in _strings(((body or {}).get("data") or {}).get("data") or {}) if len(v) >= MIN_LENGTH}
            if values:
                secrets["kv:" + folder + key] = values
    return secrets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="the playbook output to search")
    parser.add_argument("--store", type=Path, required=True, help="the controller's credentials store")
    parser.add_argument("--vault-url", default="", help="the OpenBao/Vault API, when the inventory has one")
    parser.add_argument("--vault-ca", default="", help="CA bundle of the Vault listener")
    parser.add_argument("--vault-mount", default="secret")
    parser.add_argument("--vault-prefix", default="llm-infra")
    parser.add_argument("--extra", action="append", default=[], help="NAME=FILE: a further secret to search for")
    args = parser.parse_args()
    if not args.log.is_file() or not args.store.is_dir():
        print("scan: %s must be a file and %s a folder" % (args.log, args.store), file=sys.stderr)
        return 2
    secrets = store_secrets(args.store)
    if args.vault_url:
        secrets.update(vault_secrets(args.store, args.vault_url, args.vault_ca or None, args.vault_mount, args.vault_prefix))
    for extra in args.extra:
        name, _sep, path = extra.partition("=")
        secrets["extra:" + name] = {Path(path).read_text().strip()}
    output = args.log.read_text(errors="replace")
    hits = {name: sum(output.count(v) for v in values) for name, values in secrets.items()}
    hits = {name: count for name, count in hits.items() if count}
    values = sum(len(v) for v in secrets.values())
    print("scan: %d secrets (%d values, %d from Vault KV) searched in %s (%d lines, %.1f MB): %d found"
          % (len(secrets), values, sum(1 for n in secrets if n.startswith("kv:")), args.log.name,
             output.count("\n"), len(output) / 1e6, len(hits)))
    for name, count in sorted(hits.items()):
        print("scan: the value of %s appears %d times" % (name, count))
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())

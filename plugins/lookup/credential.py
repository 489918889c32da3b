# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Lookup plugin: generated credentials, kept in Vault KV v2 when the inventory has Vault, else on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
name: credential
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.1.0
short_description: Return a generated secret, creating it once in Vault KV or the controller-side credentials store
description:
  - Returns the secret stored under O(_terms) in the credentials store, a folder on the controller, or, when the
    inventory has a C(vault) group, in Vault/OpenBao KV version 2 at C(<vault_mount>/<vault_prefix>/<name>)
    (field C(value)).
  - When the secret does not exist yet it is generated with a cryptographically secure generator, written
    with mode 0600 inside folders with mode 0700, and returned; every later call returns the same value.
  - Concurrent callers (Ansible forks, several hosts) obtain one value. Creation is serialised with a lock
    file and the secret is published with an atomic rename, never half written.
  - Values are never logged by this plugin; tasks that use them still need C(no_log).
  - "Vault backend: the controller talks to the API of the first C(vault) host (O(vault_url)) with a token from an
    AppRole login as the automation role, whose role id and secret id live in the file store as
    C(vault/automation-role-id) and C(vault/automation-secret-id) (written by the vault role)."
  - "One login per run: the token is shared by the forks of a run through C(vault/.automation-token) in the file store
    (mode 0600), reused for at most 10 minutes and never beyond its lease; a token Vault refuses earns one fresh login."
  - "Migration without changing a working value: when KV lacks the secret but the file store has it, the file's
    value is written to KV; afterwards KV wins. A new secret is written with check-and-set C(cas=0), so when
    several forks race, one write succeeds and the others re-read and return that value."
  - Names under C(vault/) and lookups with an explicit O(store) always use the file store, because they hold
    what is needed to reach Vault itself.
requirements:
  - hvac (Python package on the controller, for the Vault backend only)
options:
  _terms:
    description:
      - Names of secrets, as C(<service>/<name>) relative paths (letters, digits, C(._-) and C(/)).
    required: true
    type: list
    elements: str
  length:
    description: Length of a generated secret.
    type: int
    default: 32
  chars:
    description: Alphabet of a generated secret.
    type: str
    default: ascii_letters_digits
    choices: [ascii_letters_digits, hex, urlsafe]
  store:
    description:
      - Folder of the credentials store on the controller.
      - Defaults to the variable C(llm_infra_credentials_dir), else C(<inventory_dir>/credentials).
    type: path
  create:
    description: Generate the secret when missing; when false a missing secret is an error.
    type: bool
    default: true
  backend:
    description:
      - Where secrets live. C(auto) uses Vault when the inventory group C(vault) has hosts (except for names under
        C(vault/) and lookups with an explicit O(store)), else the file store.
    type: str
    default: auto
    choices: [auto, file, vault]
  vault_url:
    description:
      - Base URL of the Vault API as the controller reaches it.
      - Defaults to the variable C(llm_infra_vault_url), else C(https://<llm_infra_private_address of the first vault host>:8200).
    type: str
  vault_ca_cert:
    description:
      - CA certificate that verifies the Vault listener.
      - Defaults to the variable C(llm_infra_vault_ca_cert), else C(<store>/vault-ca/ca.crt), the CA bundle the vault role
        keeps (its bootstrap CA until the listeners serve certificates of Vault's PKI, then Vault's root CA).
    type: path
  vault_mount:
    description: Mount of the KV version 2 engine.
    type: str
    default: secret
  vault_prefix:
    description: Folder inside the mount under which C(<service>/<name>) secrets live.
    type: str
    default: llm-infra
  vault_timeout:
    description: Seconds to wait for each Vault request.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Create the application user with a generated password
  community.postgresql.postgresql_user:
    name: app
    password: "{{ lookup('llm_infra.cluster.credential', 'postgresql/app') }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description: The secrets, one per term.
  type: list
  elements: str
"""

import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import string
import tempfile
import time

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.lookup import LookupBase

ALPHABETS = {
    "ascii_letters_digits": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
    "urlsafe": string.ascii_letters + string.digits + "-_",
}
# The automation AppRole's credentials, written by the vault role into the file store.
AUTOMATION_ROLE_ID = "vault/automation-role-id"
AUTOMATION_SECRET_ID = "vault/automation-secret-id"
# The automation token of the current run, shared by the forks of one ansible-playbook process tree (mode 0600,
# in the private store beside the AppRole ids that can mint it anyway); reused for at most TOKEN_REUSE seconds.
AUTOMATION_TOKEN_CACHE = "vault/.automation-token"
TOKEN_REUSE = 600
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


def validate_name(name):
    """Reject names that could escape the store or are not plain relative paths."""
    if not isinstance(name, str) or not NAME_RE.match(name) or any(p in (".", "..") for p in name.split("/")):
        raise AnsibleLookupError(
            "credential name %r is invalid: use <service>/<name> with letters, digits, '.', '_' and '-'" % (name,)
        )
    return name


def generate(length, chars):
    if length < 16:
        raise AnsibleLookupError("credential length must be at least 16, got %d" % length)
    alphabet = ALPHABETS[chars]
    return "".join(secrets.choice(alphabet) for dummy in range(length))


def _makedirs_private(path):
    old = os.umask(0o077)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    finally:
        os.umask(old)


def read_file(store, name):
    """The value stored as `name` in the file store, or None."""
    validate_name(name)
    path = os.path.join(store, *name.split("/"))
    try:
        with open(path, "rb") as handle:
            value = to_text(handle.read()).rstrip("\n")
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise AnsibleLookupError("cannot read credential %s: %s" % (name, exc.strerror))
        return None
    return value or None


def read_or_create(store, name, length=32, chars="ascii_letters_digits", create=True):
    """Return the secret stored as `name` under `store`, generating it once when absent."""
    path = os.path.join(store, *validate_name(name).split("/"))
    value = read_file(store, name)
    if value is not None:
        return value
    if not create:
        raise AnsibleLookupError("credential %s does not exist in %s" % (name, store))

    folder = os.path.dirname(path)
    _makedirs_private(folder)
    lock_path = os.path.join(store, ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # Another process may have created it while this one waited for the lock.
        if os.path.exists(path):
            with open(path, "rb") as handle:
                value = to_text(handle.read()).rstrip("\n")
            if value:
                return value
        value = generate(length, chars)
        tmp_fd, tmp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            os.fchmod(tmp_fd, 0o600)
            os.write(tmp_fd, to_bytes(value + "\n"))
            os.fsync(tmp_fd)
        finally:
            os.close(tmp_fd)
        os.replace(tmp_path, path)
        return value
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _hvac():
    """hvac and the requests exceptions it lets through, imported on first use so the file store needs neither."""
    try:
        import hvac
        import hvac.exceptions
        import requests.exceptions
    except ImportError as exc:
        raise AnsibleLookupError(
            "the credential lookup's Vault backend needs the Python package hvac on the controller, in the Python that "
            "runs ansible-playbook (it is pinned in requirements.txt): %s" % exc
        ) from None
    return hvac, hvac.exceptions, requests.exceptions


# hvac raises one class per HTTP status and keeps no status code; the messages name the status as before.
_HTTP_STATUS = {
    "InvalidRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "InvalidPath": 404,
    "RateLimitExceeded": 429,
    "InternalServerError": 500,
    "VaultNotInitialized": 501,
    "BadGateway": 502,
    "VaultDown": 503,
}


def _status(error):
    return _HTTP_STATUS.get(type(error).__name__, "error")


def _errors(error):
    """Vault's own error strings, else the start of its answer; never the request, which may hold a secret."""
    errors = getattr(error, "errors", None)
    if errors:
        return "; ".join(to_text(e) for e in errors)
    return to_text((error.args[0] if error.args else None) or "")[:200]


class VaultKV:
    """The few KV v2 and AppRole calls the lookup needs, through hvac."""

    # Tokens per (url, role id, secret id) for the life of this process. Each task runs in a fresh fork, so forks
    # also share the token through token_cache (a file): one login per run, not one per task and host.
    _tokens = {}

    def __init__(self, url, ca_cert=None, mount="secret", prefix="llm-infra", timeout=30, token=None, token_cache=None):
        self.url = url.rstrip("/")
        self.ca_cert = ca_cert or None
        self.mount = mount.strip("/")
        self.prefix = prefix.strip("/")
        self.token_cache = token_cache
        self._login_args = None
        self.logins = 0
        hvac, self._exc, self._net = _hvac()
        # token and verify are explicit so that VAULT_TOKEN, ~/.vault-token and VAULT_CACERT are never picked up.
        self.client = hvac.Client(url=self.url, token=token or "", verify=self.ca_cert or True, timeout=timeout)

    @property
    def token(self):
        return self.client.token or None

    def _call(self, func, *args, **kwargs):
        """Run one hvac call; a network or TLS failure becomes the message that says what the controller needs."""
        try:
            return func(*args, **kwargs)
        except (self._net.ConnectionError, self._net.Timeout) as error:
            raise AnsibleLookupError(
                "cannot reach Vault at %s (%s): the controller needs the API port, e.g. its address in "
                "vault_api_allow_cidrs, and the unsealed cluster (playbooks/unseal.yml)" % (self.url, error)
            ) from None

    def _cache_key(self, role_id, secret_id):
        return hashlib.sha256(("%s\n%s\n%s" % (self.url, role_id, secret_id)).encode()).hexdigest()

    def _cached_token(self, key):
        try:
            with open(self.token_cache) as handle:
                entry = json.load(handle)
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or float(entry.get("expires", 0)) <= time.time():
            return None
        return entry.get("token") or None

    def _store_token(self, key, token, lease):
        folder = os.path.dirname(self.token_cache)
        _makedirs_private(folder)
        entry = {"key": key, "token": token, "expires": time.time() + max(0, min(int(lease or 0) - 60, TOKEN_REUSE))}
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".token-")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(entry, handle)
            os.replace(tmp, self.token_cache)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def login(self, role_id, secret_id, fresh=False):
        self._login_args = (role_id, secret_id)
        key = (self.url, role_id, secret_id)
        if fresh:
            self._tokens.pop(key, None)
        if key not in self._tokens:
            cache_key = self._cache_key(role_id, secret_id)
            token = None if fresh or not self.token_cache else self._cached_token(cache_key)
            if token is None:
                try:
                    body = self._call(self.client.auth.approle.login, role_id=role_id, secret_id=secret_id, use_token=False)
                except self._exc.VaultError as error:
                    raise AnsibleLookupError(
                        "AppRole login to %s failed with HTTP %s: %s. The automation's secret id works only from the "
                        "controller's address (vault_automation_bound_cidrs) and expires: playbooks/vault.yml replaces "
                        "it before that" % (self.url, _status(error), _errors(error))
                    ) from None
                auth = (body or {}).get("auth") or {}
                if not auth.get("client_token"):
                    raise AnsibleLookupError("AppRole login to %s returned no token" % self.url)
                self.logins += 1
                token = auth["client_token"]
                if self.token_cache:
                    self._store_token(cache_key, token, auth.get("lease_duration"))
            self._tokens[key] = token
        self.client.token = self._tokens[key]

    def _authorised(self, func, *args, **kwargs):
        """A call with the token; a token revoked or expired since it was cached earns one fresh login."""
        try:
            return self._call(func, *args, **kwargs)
        except self._exc.Forbidden:
            if self._login_args is None:
                raise
        self.login(*self._login_args, fresh=True)
        return self._call(func, *args, **kwargs)

    def _path(self, name):
        validate_name(name)
        return "%s/%s" % (self.prefix, name) if self.prefix else name

    def read(self, name):
        """The value of `name`, or None when KV has no live version of it."""
        try:
            body = self._authorised(
                self.client.secrets.kv.v2.read_secret_version,
                path=self._path(name),
                mount_point=self.mount,
                raise_on_deleted_version=True,
            )
        except self._exc.InvalidPath:
            return None
        except self._exc.VaultError as error:
            raise AnsibleLookupError(
                "reading credential %s from Vault failed with HTTP %s: %s" % (name, _status(error), _errors(error))
            ) from None
        value = (((body or {}).get("data") or {}).get("data") or {}).get("value")
        return value or None

    def create(self, name, value):
        """Write `name` only if it has never been written (cas=0); False when another writer was first."""
        try:
            self._authorised(
                self.client.secrets.kv.v2.create_or_update_secret,
                path=self._path(name),
                secret={"value": value},
                cas=0,
                mount_point=self.mount,
            )
        except self._exc.VaultError as error:
            if isinstance(error, self._exc.InvalidRequest) and "check-and-set" in _errors(error):
                return False
            raise AnsibleLookupError(
                "writing credential %s to Vault failed with HTTP %s: %s" % (name, _status(error), _errors(error))
            ) from None
        return True


def read_or_create_vault(kv, store, name, length=32, chars="ascii_letters_digits", create=True):
    """Return the KV value of `name`; move a working file value into KV, or generate one, when KV lacks it."""
    validate_name(name)
    value = kv.read(name)
    if value is not None:
        return value
    value = read_file(store, name)
    if value is None:
        if not create:
            raise AnsibleLookupError("credential %s exists neither in Vault nor in %s" % (name, store))
        value = generate(length, chars)
    if kv.create(name, value):
        return value
    # Another fork wrote first: its value is the one.
    value = kv.read(name)
    if value is None:
        raise AnsibleLookupError("credential %s: Vault refused the first write but holds no value" % name)
    return value


def uses_vault(backend, name, explicit_store, vault_hosts):
    """Whether `name` lives in Vault: the keys to Vault itself (vault/...) and explicit stores stay in files."""
    if backend != "auto":
        return backend == "vault"
    return bool(vault_hosts) and not explicit_store and "/" in name and name.split("/", 1)[0] != "vault"


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        store = self.get_option("store") or variables.get("llm_infra_credentials_dir")
        if not store:
            inventory_dir = variables.get("inventory_dir")
            if not inventory_dir:
                raise AnsibleLookupError("set llm_infra_credentials_dir: no inventory_dir to default the credentials store to")
            store = os.path.join(inventory_dir, "credentials")
        store = self._templar.template(store) if self._templar is not None else store
        store = os.path.abspath(os.path.expanduser(to_text(store)))
        length, chars, create = self.get_option("length"), self.get_option("chars"), self.get_option("create")
        vault_hosts = (variables.get("groups") or {}).get("vault") or []
        explicit_store = bool(self.get_option("store"))
        results = []
        kv = None
        for term in terms:
            if uses_vault(self.get_option("backend"), term, explicit_store, vault_hosts):
                if kv is None:
                    kv = self._vault(variables, store, vault_hosts)
                results.append(read_or_create_vault(kv, store, term, length=length, chars=chars, create=create))
            else:
                results.append(read_or_create(store, term, length=length, chars=chars, create=create))
        return results

    def _template(self, value):
        return self._templar.template(value) if self._templar is not None else value

    def _vault(self, variables, store, vault_hosts):
        url = self.get_option("vault_url") or variables.get("llm_infra_vault_url")
        if url:
            url = self._template(url)
        elif vault_hosts:
            address = variables["hostvars"][vault_hosts[0]].get("llm_infra_private_address")
            if not address:
                raise AnsibleLookupError("set llm_infra_vault_url: %s has no llm_infra_private_address" % vault_hosts[0])
            address = to_text(self._template(address))
            url = "https://%s:8200" % ("[%s]" % address if ":" in address else address)
        else:
            raise AnsibleLookupError("backend vault needs vault_url, llm_infra_vault_url or a vault inventory group")
        ca_cert = self.get_option("vault_ca_cert") or variables.get("llm_infra_vault_ca_cert")
        ca_cert = to_text(self._template(ca_cert)) if ca_cert else os.path.join(store, "vault-ca", "ca.crt")
        if str(url).startswith("https") and not os.path.isfile(ca_cert):
            raise AnsibleLookupError("the CA certificate of the Vault listener, %s, is missing: set llm_infra_vault_ca_cert" % ca_cert)
        kv = VaultKV(
            to_text(url),
            ca_cert=ca_cert if str(url).startswith("https") else None,
            mount=self.get_option("vault_mount"),
            prefix=self.get_option("vault_prefix"),
            timeout=self.get_option("vault_timeout"),
            token_cache=os.path.join(store, AUTOMATION_TOKEN_CACHE),
        )
        role_id = read_file(store, AUTOMATION_ROLE_ID)
        secret_id = read_file(store, AUTOMATION_SECRET_ID)
        if not role_id or not secret_id:
            raise AnsibleLookupError(
                "the inventory has a vault group but %s has no %s and %s: run playbooks/vault.yml first"
                % (store, AUTOMATION_ROLE_ID, AUTOMATION_SECRET_ID)
            )
        kv.login(role_id, secret_id)
        return kv

# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Lookup plugin: generated credentials kept in the controller-side store."""

from __future__ import annotations

DOCUMENTATION = r"""
name: credential
author: llm-infra maintainers
version_added: 0.1.0
short_description: Return a generated secret, creating it once in the controller-side credentials store
description:
  - Returns the secret stored under O(_terms) in the credentials store, a folder on the controller.
  - When the secret does not exist yet it is generated with a cryptographically secure generator, written
    with mode 0600 inside folders with mode 0700, and returned; every later call returns the same value.
  - Concurrent callers (Ansible forks, several hosts) obtain one value. Creation is serialised with a lock
    file and the secret is published with an atomic rename, never half written.
  - Values are never logged by this plugin; tasks that use them still need C(no_log).
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
import os
import re
import secrets
import string
import tempfile

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.lookup import LookupBase

ALPHABETS = {
    "ascii_letters_digits": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
    "urlsafe": string.ascii_letters + string.digits + "-_",
}
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
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _makedirs_private(path):
    old = os.umask(0o077)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    finally:
        os.umask(old)


def read_or_create(store, name, length=32, chars="ascii_letters_digits", create=True):
    """Return the secret stored as `name` under `store`, generating it once when absent."""
    validate_name(name)
    path = os.path.join(store, *name.split("/"))
    try:
        with open(path, "rb") as handle:
            value = to_text(handle.read()).rstrip("\n")
        if value:
            return value
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise AnsibleLookupError("cannot read credential %s: %s" % (name, exc.strerror))
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
        return [
            read_or_create(
                store,
                term,
                length=self.get_option("length"),
                chars=self.get_option("chars"),
                create=self.get_option("create"),
            )
            for term in terms
        ]

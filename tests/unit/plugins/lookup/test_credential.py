import multiprocessing
import os
import re
import stat
import subprocess
import sys

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


def test_concurrent_callers_get_one_value(tmp_path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), queue)) for _ in range(12)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    values = {queue.get(timeout=5) for _ in procs}
    assert len(values) == 1


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
    for _ in range(2):
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        match = re.search(r'"?msg"?: "?([A-Za-z0-9]{32})\b', proc.stdout)
        assert match, proc.stdout
        outputs.append(match.group(1))
    assert outputs[0] == outputs[1]
    assert (store / "svc" / "api").read_text().strip() == outputs[0]

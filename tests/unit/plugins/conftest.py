"""Fixtures of the plugin tests: a real MinIO server for the S3 plugins, and plugins loaded the way Ansible loads them."""

from __future__ import annotations

import importlib
import json
import os
import platform
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]


def _minio_binary():
    """The server the minio role builds (its pinned source version, cached on the controller), or $MINIO_BINARY."""
    if os.environ.get("MINIO_BINARY"):
        return os.environ["MINIO_BINARY"]
    artifacts = yaml.safe_load((REPO / "roles" / "minio" / "vars" / "main.yml").read_text())["__minio_artifacts"]
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    # llm_infra_artifact_cache_dir's default, where the minio role keeps what it built.
    built = Path.home() / ".cache" / "llm-infra" / "minio" / artifacts["source"]["version"] / ("linux-" + arch) / "minio"
    return str(built) if built.is_file() else shutil.which("minio")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MinioServer:
    endpoint: str
    access_key: str
    secret_key: str

    def client(self):
        from minio import Minio

        return Minio(self.endpoint.split("://", 1)[1], access_key=self.access_key, secret_key=self.secret_key,
                     secure=False, region="us-east-1")


@pytest.fixture(scope="session")
def minio_server(tmp_path_factory):
    """One MinIO server on a free loopback port, plain HTTP, data in a temporary folder, root user only."""
    binary = _minio_binary()
    if not binary or not os.access(binary, os.X_OK):
        pytest.skip("no MinIO server binary: converge the minio scenario once (it caches the build) or set MINIO_BINARY")
    ports = [_free_port(), _free_port()]
    base = tmp_path_factory.mktemp("minio")
    env = dict(os.environ, MINIO_ROOT_USER="llm-infra-test", MINIO_ROOT_PASSWORD="test-secret-0123456789",
               MINIO_PROMETHEUS_AUTH_TYPE="jwt", MINIO_BROWSER="off", MINIO_UPDATE="off")
    log = open(base / "server.log", "w+")
    proc = subprocess.Popen(
        [binary, "server", "--quiet", "--address", "127.0.0.1:%d" % ports[0],
         "--console-address", "127.0.0.1:%d" % ports[1], str(base / "data")],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    endpoint = "http://127.0.0.1:%d" % ports[0]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(endpoint + "/minio/health/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail("MinIO did not become ready (exit code %s):\n%s" % (proc.poll(), log.read()[-4000:]))
            time.sleep(0.1)
        yield MinioServer(endpoint, env["MINIO_ROOT_USER"], env["MINIO_ROOT_PASSWORD"])
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


@pytest.fixture(scope="session")
def lookup():
    """lookup('llm_infra.cluster.<name>', *terms, **options) as a playbook runs it: options checked against DOCUMENTATION."""
    from ansible import constants as C

    def run(name, *terms, **options):
        module = importlib.import_module("ansible_collections.llm_infra.cluster.plugins.lookup." + name)
        load_name = "llm_infra.cluster." + name
        # What the plugin loader does with DOCUMENTATION, so that set_options validates and fills defaults.
        C.config.initialize_plugin_configuration_definitions("lookup", load_name, yaml.safe_load(module.DOCUMENTATION)["options"])
        plugin = module.LookupModule()
        plugin._load_name = load_name
        return plugin.run(list(terms), variables={}, **options)

    return run


@pytest.fixture
def run_module(monkeypatch, capsys):
    """Run a module's main() with `args` as Ansible hands them over (run_command optionally replaced); its JSON result."""
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    def run(main, args, run_command=None):
        monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
        monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
        if run_command is not None:
            monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
        with pytest.raises(SystemExit):
            main()
        return json.loads(capsys.readouterr().out)

    return run

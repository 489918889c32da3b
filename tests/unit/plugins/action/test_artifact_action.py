"""The artifact action in a real playbook run (local connection): copy, idempotence, check mode, refusals."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import subprocess
import sys
import threading
import zipfile

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PAYLOAD = b"#!/bin/sh\necho tool\n" * 50


def wheel():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("tool-1.0.data/purelib/tool/bin/tool", PAYLOAD)
    return buffer.getvalue()


def test_action_in_a_playbook(tmp_path):
    www = tmp_path / "www"
    (www / "artifacts" / "tool" / "1.0" / "any").mkdir(parents=True)
    archive = wheel()
    (www / "artifacts" / "tool" / "1.0" / "any" / "tool-1.0-py3-none-any.whl").write_bytes(archive)
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    mirror = "http://127.0.0.1:%d" % httpd.server_address[1]
    dest = tmp_path / "host" / "tool"
    dest.parent.mkdir()
    entry = {
        "version": "1.0",
        "base": "https://unreachable.invalid",
        "url": "{base}/packages/tool-{version}-py3-none-any.whl",
        "member": "tool-{version}.data/purelib/tool/bin/tool",
        "architectures": {"any": {"sha256": hashlib.sha256(archive).hexdigest()}},
    }
    common = {"name": "tool", "table": entry, "dest": str(dest), "mode": "0750"}
    playbook = [{
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"llm_infra_mirror_url": mirror, "llm_infra_artifact_cache_dir": str(tmp_path / "cache")},
        "tasks": [
            {"name": "Check mode before anything is cached", "check_mode": True, "register": "check_first",
             "llm_infra.cluster.artifact": dict(common, architecture="x86_64")},
            {"name": "Install", "register": "first", "llm_infra.cluster.artifact": dict(common, architecture="x86_64")},
            {"name": "Install again", "register": "second",
             "llm_infra.cluster.artifact": dict(common, architecture="x86_64")},
            {"name": "Check mode once installed", "check_mode": True, "register": "check_again",
             "llm_infra.cluster.artifact": dict(common, architecture="x86_64")},
            {"name": "Into a bundle's artifacts folder only", "register": "bundled",
             "llm_infra.cluster.artifact": {"name": "tool", "table": entry, "architecture": "x86_64", "fetch_only": True,
                                            "cache_dir": str(tmp_path / "bundle" / "artifacts")}},
            {"name": "A wrong digest", "register": "wrong", "failed_when": False,
             "llm_infra.cluster.artifact": dict(common, architecture="x86_64", sha256="0" * 64,
                                                cache_dir=str(tmp_path / "other"))},
            {"name": "No digest", "register": "missing", "failed_when": False,
             "llm_infra.cluster.artifact": {"name": "tool", "architecture": "x86_64", "resolve_only": True,
                                            "sha256_variable": "tool_sha256",
                                            "table": dict(entry, architectures={"any": {"sha256": ""}})}},
            {"name": "Check the results", "ansible.builtin.assert": {"that": [
                "check_first is changed and not check_first.downloaded",
                "first is changed and first.downloaded",
                "first.artifact.url == llm_infra_mirror_url ~ '/artifacts/tool/1.0/any/tool-1.0-py3-none-any.whl'",
                "first.artifact.upstream_url == 'https://unreachable.invalid/packages/tool-1.0-py3-none-any.whl'",
                "bundled is changed and bundled.downloaded and bundled.artifact.member_path is search('/bundle/artifacts/')",
                "second is not changed and not second.downloaded",
                "check_again is not changed",
                "'has sha256' in wrong.msg",
                "'tool_sha256' in missing.msg and 'tool 1.0' in missing.msg",
            ]}},
        ],
    }]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(playbook))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STRATEGY="linear", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    try:
        run = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
             "-e", "ansible_python_interpreter=" + sys.executable, str(tmp_path / "play.yml")],
            capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert run.returncode == 0, run.stdout + run.stderr
    assert dest.read_bytes() == PAYLOAD
    assert oct(dest.stat().st_mode & 0o777) == "0o750"
    assert not os.listdir(tmp_path / "other" / "tool" / "1.0" / "any") or all(
        name.endswith(".lock") for name in os.listdir(tmp_path / "other" / "tool" / "1.0" / "any"))
    # fetch_only left the verified archive in the bundle's folder, in the layout a mirror serves, and unpacked nothing.
    bundled = tmp_path / "bundle" / "artifacts" / "tool" / "1.0" / "any"
    assert (bundled / "tool-1.0-py3-none-any.whl").read_bytes() == archive
    assert not (bundled / "tool-1.0-py3-none-any.whl.members").exists()

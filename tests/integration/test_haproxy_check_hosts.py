"""The haproxy role's health checks: each server is checked with its own Host header.

`http-check send` is one line per backend; the configuration looks the Host up per server in check-hosts.map,
keyed `<backend>/<server>`. This renders that map from the role's template with the role's filter and checks
every server of every backend gets its own host (an IPv6 address in brackets), and that the configuration
template builds the same key.
"""

from __future__ import annotations

from playbook_runner import REPO, run_playbook

TEMPLATES = REPO / "roles" / "haproxy" / "templates" / "etc" / "haproxy"


def instance(model, host, address, name="main"):
    return {"instance": name, "model": model, "address": address, "port": 8443, "host": host}


def test_every_server_is_checked_with_its_own_host(tmp_path):
    backends = [
        instance("gemma", "srv1", "10.0.0.11"),
        instance("gemma", "srv2", "10.0.0.12"),
        instance("gemma", "srv2", "10.0.0.12", name="second"),
        instance("qwen", "", "fd00::13"),
    ]
    out = tmp_path / "check-hosts.map"
    plays = [{
        "name": "Render the health check hosts",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"__haproxy_backends": "{{ backends | llm_infra.cluster.haproxy_backends({}) }}", "backends": backends},
        "tasks": [{"name": "Render", "ansible.builtin.template": {
            "src": str(TEMPLATES / "maps" / "check-hosts.map.j2"), "dest": str(out), "mode": "0600"}}],
    }]
    result = run_playbook(tmp_path, plays, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    entries = [line.split() for line in out.read_text().splitlines() if line and not line.startswith("#")]
    assert entries == [
        ["model_gemma/srv1_main", "srv1"],
        ["model_gemma/srv2_main", "srv2"],
        ["model_gemma/srv2_second", "srv2"],
        ["model_qwen/fd00__13_main", "[fd00::13]"],
    ]


def test_configuration_looks_the_host_up_by_backend_and_server():
    config = (TEMPLATES / "haproxy.cfg.j2").read_text()
    assert "http-check set-var-fmt(check.server) %[be_name]/%[srv_name]" in config
    assert "hdr Host %[var(check.server),map({{ __haproxy_maps_dir }}/check-hosts.map)]" in config
    assert "servers[0]" not in config

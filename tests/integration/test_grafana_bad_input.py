"""The grafana role without Grafana: bad input fails early, and every template renders into valid files.

Grafana cannot be installed on the test machines (neither its apt repository nor its download site is
reachable), so the live part is absent here; what can be proven without it is: preflight refuses bad input
naming the variable, and grafana.ini, the datasource and dashboard provisioning files and the apt source render
from the role's own defaults and vars into files their parsers accept.

The bad-input cases of each role (grafana, loki, alloy) run as one playbook in --check mode, one inventory host with
a local connection per case (see playbook_runner.run_cases); the renderings run a playbook each, without check mode.
"""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import pytest
import yaml

from playbook_runner import REPO, assert_case_fails_naming, run_cases, run_playbook

ROLE = REPO / "roles" / "grafana"
BASE_VARS = {"llm_infra_private_address": "127.0.0.1"}

# Every case runs in one playbook, one inventory host per case: the case's variables outrank the play's.
GRAFANA_PLAY = [
    {
        "name": "Apply the grafana role with bad input",
        "hosts": "cases",
        "gather_facts": True,
        "vars": BASE_VARS,
        "tasks": [{"name": "Apply the role", "ansible.builtin.include_role": {"name": "llm_infra.cluster.grafana"}}],
    }
]

CASES = {
    "latest-version": ({"grafana_version": "latest"}, ["grafana_version 'latest'", "never latest"]),
    "unknown-dashboard": ({"grafana_dashboards": ["hosts", "kafka"]}, ["grafana_dashboards", "kafka"]),
    "bad-loki-url": ({"grafana_loki_url": "loki:3100"}, ["grafana_loki_url 'loki:3100'"]),
    "unknown-install-method": ({"grafana_install_method": "snap"}, ["grafana_install_method", "snap"]),
    "tarball-without-sha256": (
        {"grafana_install_method": "tarball"},
        ["artifact grafana 11.3.0", "has no valid sha256", "set grafana_tarball_sha256", ".tar.gz.sha256"],
    ),
    # The repository's key file is an artifact like any other: no digest from the inventory, no download.
    "repository-without-key-sha256": (
        {},
        ["artifact grafana-apt-key B53AE77BADB630A683046005963FA27710458545", "has no valid sha256",
         "set grafana_apt_key_sha256", "https://apt.grafana.com/gpg.key"],
    ),
}

# The first task of each install method: the preflight stopped the case before it.
GRAFANA_NOT_REACHED = ("Install gpg", "Create the grafana system user")


@pytest.fixture(scope="module")
def grafana_runs(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("grafana"), GRAFANA_PLAY,
                     {case: role_vars for case, (role_vars, _needles) in CASES.items()})


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_early(grafana_runs, case):
    assert_case_fails_naming(grafana_runs[case], *CASES[case][1], not_reached=GRAFANA_NOT_REACHED)


TEMPLATES = {
    "grafana.ini": "etc/grafana/grafana.ini.j2",
    "datasources.yml": "etc/grafana/provisioning/datasources/llm-infra.yml.j2",
    "dashboards.yml": "etc/grafana/provisioning/dashboards/llm-infra.yml.j2",
    "grafana.sources": "etc/apt/sources.list.d/grafana.sources.j2",
    "grafana-server.service": "etc/systemd/system/grafana-server.service.j2",
}


def render(tmp_path: Path, extra: dict) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    play = [
        {
            "name": "Render the grafana templates",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": True,
            "vars": {
                **BASE_VARS,
                "llm_infra_credentials_dir": str(tmp_path / "credentials"),
                "role_path": str(ROLE),
                **extra,
            },
            "tasks": [
                {"name": "Read the defaults", "ansible.builtin.include_vars": {"file": str(ROLE / "defaults" / "main.yml")}},
                {"name": "Read the vars", "ansible.builtin.include_vars": {"file": str(ROLE / "vars" / "main.yml")}},
                {
                    "name": "Render",
                    "ansible.builtin.template": {"src": str(ROLE / "templates") + "/{{ item.value }}", "dest": str(out) + "/{{ item.key }}", "mode": "0600"},
                    "loop": "{{ templates | dict2items }}",
                },
            ],
        }
    ]
    result = run_playbook(tmp_path, play, check=False, extra_vars={"templates": TEMPLATES, **extra})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_templates_render_valid_files(tmp_path: Path):
    out = render(tmp_path, {"grafana_loki_url": "https://10.0.0.9:3100"})
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string((out / "grafana.ini").read_text())
    assert ini["server"]["protocol"] == "https"
    assert ini["server"]["http_addr"] == "127.0.0.1"
    assert ini["server"]["cert_file"] == "/etc/llm-infra/tls/grafana.crt"
    assert len(ini["security"]["admin_password"]) >= 32
    assert ini["auth.anonymous"]["enabled"] == "false"
    assert ini["users"]["allow_sign_up"] == "false"

    datasources = yaml.safe_load((out / "datasources.yml").read_text())["datasources"]
    by_uid = {d["uid"]: d for d in datasources}
    assert set(by_uid) == {"prometheus", "loki"}
    prom = by_uid["prometheus"]
    assert prom["url"] == "https://127.0.0.1:9090" and prom["basicAuth"] is True
    assert prom["secureJsonData"]["tlsCACert"] == "$__file{/etc/llm-infra/tls/ca.crt}"
    # The password is the one the prometheus role hashes: same credential name, same store.
    password = (tmp_path / "credentials" / "prometheus" / "web-admin").read_text().strip()
    assert prom["secureJsonData"]["basicAuthPassword"] == password
    loki = by_uid["loki"]
    assert loki["url"] == "https://10.0.0.9:3100"
    # Loki requires a client certificate: Grafana presents its own, and verifies Loki against the cluster CA.
    assert loki["jsonData"]["tlsAuth"] is True and loki["jsonData"]["tlsAuthWithCACert"] is True
    assert loki["secureJsonData"] == {
        "tlsCACert": "$__file{/etc/llm-infra/tls/ca.crt}",
        "tlsClientCert": "$__file{/etc/llm-infra/tls/grafana.crt}",
        "tlsClientKey": "$__file{/etc/llm-infra/tls/grafana.key}",
    }

    providers = yaml.safe_load((out / "dashboards.yml").read_text())["providers"]
    assert providers[0]["options"]["path"] == "/var/lib/grafana/dashboards/llm-infra"

    sources = (out / "grafana.sources").read_text()
    assert "URIs: https://apt.grafana.com" in sources and "Signed-By: /usr/share/keyrings/grafana.asc" in sources
    assert "ExecStart=/usr/share/grafana/bin/grafana server" in (out / "grafana-server.service").read_text()

    # Every dashboard the role provisions by default exists and names the provisioned datasource uid.
    for name in yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())["grafana_dashboards"]:
        board = json.loads((ROLE / "files" / "dashboards" / f"{name}.json").read_text())
        assert all(p["datasource"]["uid"] in by_uid for p in board["panels"])


def test_mirror_replaces_the_repository_url(tmp_path: Path):
    out = render(tmp_path, {"llm_infra_mirror_url": "https://mirror.example.internal/grafana"})
    assert "URIs: https://mirror.example.internal/grafana" in (out / "grafana.sources").read_text()
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string((out / "grafana.ini").read_text())
    assert "loki" not in yaml.safe_load((out / "datasources.yml").read_text())["datasources"][0]["uid"]


def test_live_grafana_is_not_obtainable_here():
    pytest.skip("artifact Grafana (apt.grafana.com package or dl.grafana.com archive) is not reachable from the test machines")


# Loki and Alloy, the log half of the stack, are just as unobtainable here: same proof, rendered and parsed.
LOG_ROLES = {
    "loki": {"config.yml": "etc/loki/config.yml.j2", "loki.service": "etc/systemd/system/loki.service.j2"},
    "alloy": {"config.alloy": "etc/alloy/config.alloy.j2", "alloy.default": "etc/default/alloy.j2"},
}


def render_role(tmp_path: Path, role: str, extra: dict) -> Path:
    role_dir = REPO / "roles" / role
    out = tmp_path / "out"
    out.mkdir()
    play = [
        {
            "name": f"Render the {role} templates",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": True,
            "vars": {**BASE_VARS, "llm_infra_credentials_dir": str(tmp_path / "credentials"), "inventory_hostname_short": "x"},
            "tasks": [
                {"name": "Read the defaults", "ansible.builtin.include_vars": {"file": str(role_dir / "defaults" / "main.yml")}},
                {"name": "Read the vars", "ansible.builtin.include_vars": {"file": str(role_dir / "vars" / "main.yml")}},
                {
                    "name": "Render",
                    "ansible.builtin.template": {
                        "src": str(role_dir / "templates") + "/{{ item.value }}", "dest": str(out) + "/{{ item.key }}", "mode": "0600",
                    },
                    "loop": "{{ templates | dict2items }}",
                },
            ],
        }
    ]
    result = run_playbook(tmp_path, play, check=False, extra_vars={"templates": LOG_ROLES[role], **extra})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_loki_config_filesystem(tmp_path: Path):
    config = yaml.safe_load((render_role(tmp_path, "loki", {}) / "config.yml").read_text())
    assert config["server"]["http_listen_address"] == "127.0.0.1"
    # Push, query and every other endpoint need a client certificate of the cluster CA.
    assert config["server"]["http_tls_config"] == {
        "cert_file": "/etc/llm-infra/tls/loki.crt",
        "key_file": "/etc/llm-infra/tls/loki.key",
        "client_auth_type": "RequireAndVerifyClientCert",
        "client_ca_file": "/etc/llm-infra/tls/ca.crt",
    }
    assert config["auth_enabled"] is False
    assert config["limits_config"]["retention_period"] == "744h"
    assert config["compactor"]["retention_enabled"] is True
    assert config["schema_config"]["configs"][0]["object_store"] == "filesystem"
    assert config["common"]["storage"]["filesystem"]["chunks_directory"] == "/var/lib/loki/chunks"


def test_loki_config_s3(tmp_path: Path):
    out = render_role(tmp_path, "loki", {"loki_storage": "s3", "loki_s3_endpoint": "https://10.0.0.7:9000", "loki_retention_period": "168h"})
    config = yaml.safe_load((out / "config.yml").read_text())
    s3 = config["common"]["storage"]["s3"]
    assert s3["endpoint"] == "10.0.0.7:9000" and s3["insecure"] is False and s3["bucketnames"] == "loki"
    assert s3["secret_access_key"] == (tmp_path / "credentials" / "loki" / "s3-secret-key").read_text().strip()
    assert config["schema_config"]["configs"][0]["object_store"] == "s3"
    assert config["server"]["http_tls_config"]["client_auth_type"] == "RequireAndVerifyClientCert"
    assert config["compactor"]["delete_request_store"] == "s3"
    assert config["limits_config"]["retention_period"] == "168h"


def alloy_endpoints(text: str) -> list[dict]:
    """The endpoint blocks of loki.write "default": url and the tls_config attributes of each."""
    write = text[text.index('loki.write "default" {'):]
    endpoints = []
    for block in re.findall(r"endpoint \{(.*?)\n  \}", write, re.DOTALL):
        url = re.search(r'^\s*url\s*=\s*"([^"]*)"', block, re.MULTILINE).group(1)
        tls = re.search(r"tls_config \{(.*?)\}", block, re.DOTALL).group(1)
        endpoints.append({"url": url, "tls": dict(re.findall(r'^\s*(\w+)\s*=\s*"([^"]*)"', tls, re.MULTILINE))})
    return endpoints


def test_alloy_pipeline(tmp_path: Path):
    urls = ["https://10.0.0.9:3100/loki/api/v1/push", "https://10.0.0.10:3100/loki/api/v1/push"]
    out = render_role(
        tmp_path,
        "alloy",
        {"alloy_loki_push_urls": urls, "alloy_extra_labels": {"cluster": "lab"}, "alloy_journal_max_priority": 4},
    )
    text = (out / "config.alloy").read_text()
    # Every push presents the host's client certificate (Loki requires one) and verifies Loki against the cluster CA.
    tls = {"ca_file": "/etc/llm-infra/tls/ca.crt", "cert_file": "/etc/llm-infra/tls/alloy.crt", "key_file": "/etc/llm-infra/tls/alloy.key"}
    assert alloy_endpoints(text) == [{"url": url, "tls": tls} for url in urls]
    assert 'source_labels = ["__journal__systemd_unit"]' in text and 'target_label  = "unit"' in text
    assert 'host = "localhost"' in text and 'cluster = "lab"' in text
    assert 'matches       = "PRIORITY=0 PRIORITY=1 PRIORITY=2 PRIORITY=3 PRIORITY=4"' in text
    assert text.count("{") == text.count("}"), "unbalanced blocks"
    assert "--server.http.listen-addr=127.0.0.1:12345" in (out / "alloy.default").read_text()


LOG_CASES = {
    "loki-retention-zero": ("loki", {"loki_retention_period": "0h"}, ["loki_retention_period '0h'"]),
    "loki-s3-without-endpoint": ("loki", {"loki_storage": "s3"}, ["loki_s3_endpoint ('')"]),
    "alloy-without-loki": ("alloy", {}, ["alloy_loki_push_urls ([])"]),
    "alloy-without-key-sha256": (
        "alloy",
        {"alloy_loki_push_urls": ["https://10.0.0.9:3100/loki/api/v1/push"]},
        ["artifact grafana-apt-key B53AE77BADB630A683046005963FA27710458545", "set alloy_apt_key_sha256", "/gpg.key"],
    ),
    "loki-without-sha256": (
        "loki", {}, ["artifact loki 3.3.2", "has no valid sha256", "set loki_sha256", "SHA256SUMS"]
    ),
}

# The first task after each role's preflight (alloy's install begins with the grafana role's apt_repository).
LOG_NOT_REACHED = {"loki": ("Create the loki system user",), "alloy": ("Install gpg",)}


def log_role_play(role: str) -> list:
    return [
        {
            "name": f"Apply the {role} role with bad input",
            "hosts": "cases",
            "gather_facts": True,
            "vars": BASE_VARS,
            "tasks": [{"name": "Apply the role", "ansible.builtin.include_role": {"name": f"llm_infra.cluster.{role}"}}],
        }
    ]


@pytest.fixture(scope="module")
def log_runs(tmp_path_factory):
    """One playbook per role, its cases together."""
    runs = {}
    for role in sorted({role for role, _role_vars, _needles in LOG_CASES.values()}):
        cases = {case: role_vars for case, (case_role, role_vars, _needles) in LOG_CASES.items() if case_role == role}
        runs.update(run_cases(tmp_path_factory.mktemp(role), log_role_play(role), cases))
    return runs


@pytest.mark.parametrize("case", sorted(LOG_CASES))
def test_log_roles_bad_input(log_runs, case):
    role, _role_vars, expected = LOG_CASES[case]
    assert_case_fails_naming(log_runs[case], *expected, not_reached=LOG_NOT_REACHED[role])


@pytest.mark.parametrize("artifact", ["Loki release zip (GitHub releases)", "Grafana Alloy package (apt.grafana.com)"])
def test_live_log_stack_is_not_obtainable_here(artifact):
    pytest.skip(f"artifact {artifact} is not reachable from the test machines")

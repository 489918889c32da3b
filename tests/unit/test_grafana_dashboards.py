"""Dashboards shipped by the grafana role: valid JSON, unique uids, and every PromQL expression compiles.

All `expr` fields (panel targets and template variable queries) are collected, Grafana's variables replaced by
sample values, and written as recording rules into one file that the real promtool must accept
(`promtool check rules` parses every expression). promtool comes from Debian's `prometheus` package
(scripts/test-artifacts.d/promtool.sh).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from test_prometheus_rules import find_promtool

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "roles" / "grafana" / "files" / "dashboards").glob("*.json"))
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "${__range}": "1h",
}


@pytest.fixture(scope="session")
def promtool() -> str:
    path, why = find_promtool()
    if path is None:
        pytest.skip(f"artifact promtool (Debian package prometheus, scripts/test-artifacts.d/promtool.sh) unavailable: {why}")
    return path


def walk_exprs(node, where="$"):
    """Yield (json path, expr) for every PromQL expression in a dashboard."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield f"{where}.expr", value
            else:
                yield from walk_exprs(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk_exprs(value, f"{where}[{index}]")


def substitute(expr: str, variables: list[str]) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    for name in sorted(variables, key=len, reverse=True):
        expr = re.sub(r"\$\{?" + re.escape(name) + r"\}?", ".*", expr)
    return expr


def test_dashboards_exist():
    names = {p.stem for p in DASHBOARDS}
    assert {"gpu-fleet", "llm-serving", "hosts", "postgresql", "minio"} <= names, names


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_valid_json_with_prometheus_panels(path):
    data = json.loads(path.read_text())
    assert data["uid"] and data["title"]
    assert data["panels"], "a dashboard without panels"
    for panel in data["panels"]:
        assert panel.get("targets"), f"panel {panel.get('title')} has no query"
        assert panel["datasource"]["uid"] == "prometheus", "panels must use the provisioned Prometheus datasource uid"


def test_dashboard_uids_are_unique():
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids)), uids


def test_every_expression_compiles(promtool, tmp_path):
    rules = []
    origin = {}
    for path in DASHBOARDS:
        data = json.loads(path.read_text())
        variables = [v["name"] for v in data.get("templating", {}).get("list", [])]
        for where, expr in walk_exprs(data):
            record = f"dashboard:expr_{len(rules)}"
            rules.append({"record": record, "expr": substitute(expr, variables)})
            origin[record] = f"{path.name} {where}"
        # Variable queries use Grafana's label_values(); their selector must compile on its own.
        for variable in data.get("templating", {}).get("list", []):
            query = variable.get("definition", "")
            match = re.match(r"^label_values\((.+),\s*[a-zA-Z_]+\)$", query)
            if match:
                record = f"dashboard:expr_{len(rules)}"
                rules.append({"record": record, "expr": match.group(1)})
                origin[record] = f"{path.name} variable {variable['name']}"
    assert len(rules) >= 30, f"only {len(rules)} expressions found"
    rule_file = tmp_path / "dashboards.rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, sort_keys=False))
    result = subprocess.run([promtool, "check", "rules", str(rule_file)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        # Name the dashboard and panel of each broken expression.
        broken = [f"{origin[r]}: {r}" for r in origin if r in result.stdout + result.stderr]
        pytest.fail("promtool rejected dashboard expressions:\n" + result.stdout + result.stderr + "\n".join(broken))


def test_broken_expression_is_caught(promtool, tmp_path):
    """The check above can fail: a broken expression written the same way is rejected."""
    rule_file = tmp_path / "broken.rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": [{"record": "x:y", "expr": "sum by (instance (up)"}]}]}))
    result = subprocess.run([promtool, "check", "rules", str(rule_file)], capture_output=True, text=True, check=False)
    assert result.returncode != 0

"""Alert rules shipped by the prometheus role, checked and unit-tested with the real promtool.

promtool comes from Debian's `prometheus` package (scripts/test-artifacts.d/promtool.sh downloads and unpacks
it into the test artifact cache). Every alert of roles/prometheus/files/rules/*.yml must have at least one
`promtool test rules` case in tests/rules/ where it fires and one where it stays silent, so a new rule
without tests fails this suite.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "roles" / "prometheus" / "files" / "rules"
TESTS_DIR = REPO / "tests" / "rules"
ARTIFACT_SCRIPT = REPO / "scripts" / "test-artifacts.d" / "promtool.sh"


def _artifacts_env() -> dict:
    cache = Path(os.environ.get("LLM_INFRA_TEST_ARTIFACTS", Path.home() / ".cache" / "llm-infra" / "test-artifacts"))
    env_file = cache / "artifacts.env"
    if not env_file.exists():
        return {}
    pairs = (line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return dict(pairs)


def find_promtool() -> tuple[str | None, str]:
    """Path of promtool, or None and why it could not be obtained."""
    candidate = os.environ.get("PROMTOOL") or _artifacts_env().get("PROMTOOL")
    if candidate and os.access(candidate, os.X_OK):
        return candidate, ""
    # Not fetched yet: the script is idempotent and needs only apt-get download and dpkg-deb.
    try:
        result = subprocess.run(["bash", str(ARTIFACT_SCRIPT)], capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    for line in result.stdout.splitlines():
        if line.startswith("PROMTOOL="):
            path = line.split("=", 1)[1]
            if os.access(path, os.X_OK):
                return path, ""
    return None, (result.stderr or result.stdout).strip()[-500:]


@pytest.fixture(scope="session")
def promtool() -> str:
    path, why = find_promtool()
    if path is None:
        pytest.skip(f"artifact promtool (Debian package prometheus, scripts/test-artifacts.d/promtool.sh) unavailable: {why}")
    return path


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def rule_test_files(name: str = "*_test.yml") -> list[Path]:
    return sorted(TESTS_DIR.glob(name))


def alerts_in(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text())
    return [rule["alert"] for group in data["groups"] for rule in group["rules"] if "alert" in rule]


def test_rule_files_exist():
    assert len(rule_files()) >= 4, f"expected the shipped rule files under {RULES_DIR}"
    assert rule_test_files(), f"no promtool rule tests under {TESTS_DIR}"


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_promtool_check_rules(promtool, path):
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", rule_test_files(), ids=lambda p: p.name)
def test_promtool_test_rules(promtool, path):
    # promtool resolves rule_files relative to the test file's folder.
    result = subprocess.run(
        [promtool, "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_fires_and_stays_silent_in_some_case():
    firing: dict[str, int] = {}
    silent: dict[str, int] = {}
    tested_rule_files: set[Path] = set()
    for path in rule_test_files():
        data = yaml.safe_load(path.read_text())
        tested_rule_files.update((path.parent / name).resolve() for name in data.get("rule_files", []))
        for case in data.get("tests", []):
            for check in case.get("alert_rule_test", []):
                bucket = firing if check.get("exp_alerts") else silent
                bucket[check["alertname"]] = bucket.get(check["alertname"], 0) + 1
    missing = []
    for path in rule_files():
        if path.resolve() not in tested_rule_files:
            missing.append(f"{path.name}: no test file under tests/rules lists it in rule_files")
        for alert in alerts_in(path):
            if alert not in firing:
                missing.append(f"{path.name}: {alert} has no case where it fires")
            if alert not in silent:
                missing.append(f"{path.name}: {alert} has no case where it stays silent")
    assert not missing, "\n".join(missing)


def test_alert_names_are_unique_and_labelled():
    seen: dict[str, str] = {}
    problems = []
    for path in rule_files():
        data = yaml.safe_load(path.read_text())
        for group in data["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                if rule["alert"] in seen:
                    problems.append(f"{rule['alert']} in {path.name} and {seen[rule['alert']]}")
                seen[rule["alert"]] = path.name
                if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
                    problems.append(f"{rule['alert']}: severity must be critical, warning or info")
                if not rule.get("annotations", {}).get("summary"):
                    problems.append(f"{rule['alert']}: no summary annotation")
    assert not problems, "\n".join(problems)

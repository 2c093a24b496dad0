"""The Prometheus configuration and alert rules of deploy/prometheus/, checked by promtool: the
config and rules are valid, every alert has unit tests that see it fire and stay quiet, and the
rules only name metrics the services really export."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import services.api.metrics
import services.connectors.metrics
import services.ingest.metrics  # noqa: F401 - registers the worker's and connectors' metrics
from services.common.settings import REPO_ROOT

PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "ioc-alerts.yml"
RULE_TESTS = PROMETHEUS_DIR / "tests" / "ioc-alerts.test.yml"


def _promtool(*args: str) -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: `make tools` installs Debian's prometheus package")
    result = subprocess.run([promtool, *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _alerts() -> list[dict[str, Any]]:
    return [rule for group in _load(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


def test_the_scrape_config_and_its_rules_are_valid() -> None:
    assert "SUCCESS" in _promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))


def test_the_alert_unit_tests_pass() -> None:
    assert "SUCCESS" in _promtool("test", "rules", str(RULE_TESTS))


def test_every_alert_is_seen_firing_and_quiet() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in _load(RULE_TESTS)["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {alert["alert"] for alert in _alerts()}
    assert names - fired == set(), "alerts never seen firing"
    assert names - quiet == set(), "alerts never seen quiet"


def test_the_rules_name_only_metrics_the_services_export() -> None:
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    exported = {
        metric.name + suffix
        for metric in REGISTRY.collect()
        for suffix in suffixes.get(metric.type, [""])
    }
    exported |= {"up"}  # Prometheus's own, per scrape target
    for alert in _alerts():
        for name in re.findall(r"\b(ioc_[a-z0-9_]+|up)\b", alert["expr"]):
            assert name in exported, f"{alert['alert']} names {name}, which nothing exports"

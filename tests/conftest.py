"""Shared test helpers. Unit tests touch no infrastructure; integration fixtures live in
``tests/integration/conftest.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.common.feeds import FeedDefinition, load_feeds
from services.common.settings import REPO_ROOT

SCHEMAS_DIR = REPO_ROOT / "schemas"


@pytest.fixture(scope="session")
def feeds() -> dict[str, FeedDefinition]:
    return load_feeds(SCHEMAS_DIR)


def read_examples(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# A CI log may be read from its end only: what did not pass is named again after the final count.
_not_passed: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        reason = str(crash.message).partition("\n")[0][:200] if crash else ""
        _not_passed.append(f"{report.when} failed: {report.nodeid}: {reason}")


def pytest_unconfigure(config: pytest.Config) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if _not_passed and reporter is not None:
        for line in _not_passed:
            reporter.write_line(line)

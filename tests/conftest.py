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

"""The scorecards' loop waits out a database that is away, and dies loudly on anything else: a
SQL error is a bug, not "database unavailable" logged for ever."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from services.api.units.scoring import keep_scoring
from services.common.feeds import load_feeds
from services.common.units import load_units
from tests.conftest import SCHEMAS_DIR
from tests.unit.api.reminders.test_loops import Again, FailingPool

NOW = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
FEEDS = load_feeds(SCHEMAS_DIR)
UNITS = load_units(SCHEMAS_DIR, FEEDS)


@pytest.mark.asyncio
async def test_a_sql_error_ends_the_loop_loudly() -> None:
    pool = FailingPool(asyncpg.UndefinedTableError('relation "unit_scores" does not exist'))
    with pytest.raises(asyncpg.UndefinedTableError):
        await keep_scoring(pool, FEEDS, UNITS, lambda: NOW, 0.0)


@pytest.mark.asyncio
async def test_a_database_away_is_waited_out() -> None:
    pool = FailingPool(ConnectionRefusedError("the store is down"))
    with pytest.raises(Again):  # went round again after the outage, as it should
        await keep_scoring(pool, FEEDS, UNITS, lambda: NOW, 0.0)

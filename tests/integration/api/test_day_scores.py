"""A unit's day score covers the day: each evaluation weighs the time since the one before, so
a feed down most of the day and live at the last evaluation does not score the day 1.0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.api.units import repository
from services.api.units.scorecards import DayScores
from services.common.db import create_pool
from services.common.province import day_start

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 27, tzinfo=UTC).date()
STARTS = day_start(DAY)  # 2026-11-26 17:00 UTC


@asynccontextmanager
async def store_pool(database_url: str) -> AsyncIterator[Any]:
    """A connection with the store's codecs (the scorecards' jsonb), as the API's pool has."""
    pool = await create_pool(database_url, max_size=1)
    try:
        async with pool.acquire() as connection:
            yield connection
    finally:
        await pool.close()


async def store(connection: Any, hours: float, scores: DayScores) -> None:
    now = STARTS + timedelta(hours=hours)
    await repository.store_scores(connection, DAY, STARTS, now, {"sxd": scores})


@pytest.mark.asyncio(loop_scope="session")
async def test_a_day_down_for_15_hours_and_live_at_its_last_evaluation_scores_its_hours(
    database_url: str,
) -> None:
    async with store_pool(database_url) as connection:
        await store(connection, 3, DayScores(live=0.0, score=0.0, timeliness=None))
        await store(connection, 15, DayScores(live=0.0, score=0.0, timeliness=1.0))
        await store(connection, 20, DayScores(live=1.0, score=1.0, timeliness=None, tasks_done=4))
        row = await connection.fetchrow(
            "SELECT live, score, timeliness, tasks_done, covered_s FROM unit_scores"
            " WHERE unit = 'sxd' AND day = $1",
            DAY,
        )
    # Down from midnight to 15:00, live from then to 20:00 (the evaluation's own interval).
    assert row["live"] == pytest.approx(5 / 20)
    assert row["score"] == pytest.approx(5 / 20)
    assert row["timeliness"] == 1.0  # judged once; the other evaluations had nothing to judge
    assert row["tasks_done"] == 4  # counts are as of the last evaluation
    assert row["covered_s"] == pytest.approx(20 * 3600)


@pytest.mark.asyncio(loop_scope="session")
async def test_an_evaluation_at_the_same_moment_again_changes_nothing(database_url: str) -> None:
    async with store_pool(database_url) as connection:
        await store(connection, 6, DayScores(score=0.5))
        await store(connection, 6, DayScores(score=1.0))  # another process, the same moment
        score = await connection.fetchval(
            "SELECT score FROM unit_scores WHERE unit = 'sxd' AND day = $1", DAY
        )
    assert score == pytest.approx(0.5)

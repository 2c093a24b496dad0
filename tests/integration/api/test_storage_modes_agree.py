"""For the same data, every indicator answers the same in both storage modes: its value and its
series at 5-minute, hourly and raw intervals. Every example of every feed goes through a real
worker into a TimescaleDB store and into a plain one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from services.api.errors import NotFound
from services.api.indicators.definitions import IndicatorDefinition, load_indicators
from services.api.indicators.repository import evaluate
from services.api.indicators.series import parse_interval, series
from services.common.db import create_pool
from services.common.feeds import FeedDefinition, load_feeds
from services.common.storage_mode import MODES, StorageMode
from services.common.topics import Topics, ensure_topics
from tests.conftest import SCHEMAS_DIR
from tests.integration.conftest import (
    TIMESCALEDB_INSTALLED,
    StackUnderTest,
    delete_topics,
    drop_database,
    fresh_database_url,
    settings_for,
)
from tests.integration.pipeline import ingest_every_example

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not TIMESCALEDB_INSTALLED, reason="needs TimescaleDB beside plain mode"),
]

INDICATORS = load_indicators(SCHEMAS_DIR, load_feeds(SCHEMAS_DIR))
# (interval, from, to): 5-minute aggregates, hourly ones, the observations themselves.
SERIES_WINDOWS = (
    ("5m", datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)),
    ("1h", datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)),
    ("1m", datetime(2026, 11, 24, 12, tzinfo=UTC), datetime(2026, 11, 25, 12, tzinfo=UTC)),
    ("1d", datetime(2024, 6, 1, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)),
)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def stores(
    stack: StackUnderTest, feeds: dict[str, FeedDefinition]
) -> AsyncIterator[dict[StorageMode, Any]]:
    """One pool per mode, on a store holding every example; TimescaleDB's aggregates refreshed
    by their own policy jobs (rows written late behind their watermark wait for that run)."""
    pools: dict[StorageMode, Any] = {}
    urls, topics = [], []
    try:
        for mode in MODES:
            url = await fresh_database_url(mode)
            urls.append(url)
            namespace = Topics(namespace=f"t{uuid.uuid4().hex[:10]}.")
            partitions = namespace.partitions(feeds)
            await ensure_topics(stack.kafka, partitions)
            topics.append(list(partitions))
            await ingest_every_example(settings_for(url, stack.kafka, namespace), feeds)
            pools[mode] = await create_pool(url, min_size=1, max_size=2)
        async with pools["timescaledb"].acquire() as connection:
            jobs = await connection.fetch(
                "SELECT job_id FROM timescaledb_information.jobs"
                " WHERE proc_name = 'policy_refresh_continuous_aggregate' ORDER BY job_id"
            )
            for job in jobs:
                while True:
                    try:
                        await connection.execute(f"CALL run_job({job['job_id']})")
                        break
                    except asyncpg.LockNotAvailableError:  # the scheduler's own run of it
                        await asyncio.sleep(1)  # ours goes after, as a late row waits for it
        yield pools
    finally:
        for pool in pools.values():
            await pool.close()
        for url in urls:
            await drop_database(url)
        for names in topics:
            await delete_topics(stack.kafka, names)


async def _answers(pool: Any, d: IndicatorDefinition) -> dict[str, Any]:
    async with pool.acquire() as connection:
        # Read just after the feed's newest record: every window holds some of the examples.
        newest = await connection.fetchval("SELECT max(ts) FROM latest WHERE feed = $1", d.feed)
        value = await evaluate(connection, d, newest + timedelta(seconds=1))
        answers: dict[str, Any] = {"value": (value.value, value.as_of, value.breakdown)}
        for interval, start, end in SERIES_WINDOWS:
            try:
                answers[interval] = await series(
                    connection, d, start, end, parse_interval(interval)
                )
            except NotFound:  # counts of latest states: no series
                answers[interval] = None
    return answers


@pytest.mark.parametrize("indicator", sorted(INDICATORS))
@pytest.mark.asyncio(loop_scope="session")
async def test_every_indicator_answers_the_same_in_both_modes(
    stores: dict[StorageMode, Any], indicator: str
) -> None:
    d = INDICATORS[indicator]
    timescale = await _answers(stores["timescaledb"], d)
    plain = await _answers(stores["postgres"], d)
    assert timescale == plain
    assert timescale["value"][0] is not None, "every indicator has data from the examples"

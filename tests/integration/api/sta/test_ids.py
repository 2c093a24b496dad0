"""SensorThings ids: given once per thing and per datastream when a series is first stored, and
given to the series of a store that held data before migration 0007."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from services.common.migrate import upgrade
from services.common.storage_mode import StorageMode
from tests.integration.conftest import StackUnderTest, drop_database, empty_database_url

pytestmark = pytest.mark.integration

ADD_LATEST = """
INSERT INTO latest (feed, entity, metric, ts, value)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::float8[])
ON CONFLICT (feed, entity, metric) DO UPDATE SET value = EXCLUDED.value, ts = EXCLUDED.ts
"""


@pytest.mark.asyncio(loop_scope="session")
async def test_series_stored_before_and_after_the_migration_are_numbered_once(
    stack: StackUnderTest,
) -> None:
    mode: StorageMode = stack.storage_mode
    url = await empty_database_url()
    try:
        await asyncio.to_thread(upgrade, url, storage_mode=mode, revision="0006")
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(
                ADD_LATEST,
                ["salinity", "salinity", "traffic"],
                ["CM-SAL-02", "CM-SAL-02", "CAM-1"],
                ["salinity_ppt", "water_level_m", "vehicles"],
                [datetime(2026, 11, 25, tzinfo=UTC)] * 3,
                [9.2, 1.1, 40.0],
            )
        finally:
            await connection.close()
        await asyncio.to_thread(upgrade, url)
        connection = await asyncpg.connect(url)
        try:
            # The stored series, numbered in key order by the migration.
            assert await _ids(connection) == (
                [(1, "salinity", "CM-SAL-02"), (2, "traffic", "CAM-1")],
                [
                    (1, "salinity", "CM-SAL-02", "salinity_ppt"),
                    (2, "salinity", "CM-SAL-02", "water_level_m"),
                    (3, "traffic", "CAM-1", "vehicles"),
                ],
            )
            # Known series written again keep their ids; a new one (of a known thing and of a
            # new thing) is numbered by the statement that stores it first.
            await connection.execute(
                ADD_LATEST,
                ["salinity", "salinity", "air-quality"],
                ["CM-SAL-02", "CM-SAL-02", "CM-AQ-01"],
                ["salinity_ppt", "ph", "pm25_ugm3"],
                [datetime(2026, 11, 26, tzinfo=UTC)] * 3,
                [9.4, 7.0, 22.0],
            )
            things, datastreams = await _ids(connection)
        finally:
            await connection.close()
        assert things == [
            (1, "salinity", "CM-SAL-02"),
            (2, "traffic", "CAM-1"),
            (3, "air-quality", "CM-AQ-01"),
        ]
        assert datastreams[:3] == [
            (1, "salinity", "CM-SAL-02", "salinity_ppt"),
            (2, "salinity", "CM-SAL-02", "water_level_m"),
            (3, "traffic", "CAM-1", "vehicles"),
        ]
        assert sorted(datastreams[3:]) == [
            (4, "air-quality", "CM-AQ-01", "pm25_ugm3"),
            (5, "salinity", "CM-SAL-02", "ph"),
        ]
    finally:
        await drop_database(url)


async def _ids(connection: asyncpg.Connection) -> tuple[list[tuple[object, ...]], ...]:
    things = await connection.fetch("SELECT id, feed, entity FROM sta_things ORDER BY id")
    datastreams = await connection.fetch(
        "SELECT id, feed, entity, metric FROM sta_datastreams ORDER BY id"
    )
    return [tuple(r) for r in things], [tuple(r) for r in datastreams]

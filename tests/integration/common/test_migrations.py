"""The migrations build exactly the schema described by services/common/tables.py."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from services.common.db import sqlalchemy_url
from services.common.migrate import upgrade
from services.common.storage_mode import MODES, StorageMode, StorageModeError
from services.common.tables import PLAIN_ONLY, metadata
from tests.integration.conftest import (
    TIMESCALEDB_INSTALLED,
    StackUnderTest,
    drop_database,
    empty_database_url,
)

pytestmark = pytest.mark.integration


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection)
    return [
        diff
        for diff in compare_metadata(context, metadata)
        # Partitions and Alembic's own table are not part of the described schema, and in
        # TimescaleDB mode the rollups are continuous aggregates (views), not tables, and their
        # watermarks are in its catalog.
        if not (diff[0] == "remove_table" and _is_managed(diff[1].name))
        and not (_plain_only(diff) and _is_timescaledb(connection))
    ]


def _plain_only(diff: Any) -> bool:
    """A table plain mode alone has, or an index of one (Alembic finds those of plain mode's
    rollups missing on a TimescaleDB store migrated from revisions 0002 to 0004, whose rollups
    are continuous aggregates)."""
    if diff[0] == "add_table":
        return diff[1].name in PLAIN_ONLY
    return diff[0] == "add_index" and diff[1].table.name in PLAIN_ONLY


def _is_timescaledb(connection: Connection) -> bool:
    mode = connection.exec_driver_sql("SELECT value FROM storage_info WHERE key = 'mode'")
    return bool(mode.scalar_one() == "timescaledb")


def _is_managed(table: str) -> bool:
    return table == "alembic_version" or table.startswith(("observations_", "states_"))


@pytest.mark.asyncio(loop_scope="session")
async def test_migrated_schema_matches_the_metadata(database_url: str) -> None:
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


@pytest.mark.asyncio(loop_scope="session")
async def test_storage_mode_is_recorded_and_partitions_cover_today(db: Any, stack: Any) -> None:
    assert await db.fetchval("SELECT value FROM storage_info WHERE key = 'mode'") == (
        stack.storage_mode
    )
    if stack.storage_mode == "postgres":
        month = await db.fetchval("SELECT to_char(now(), 'YYYY_MM')")
        partition = await db.fetchval("SELECT to_regclass($1)::text", f"observations_{month}")
        assert partition == f"observations_{month}"
        created = await db.fetchval("SELECT ioc_ensure_partitions('2024-01-01', now()::date)")
        assert created == 0  # the migration already made them: idempotent


def _modes() -> list[StorageMode]:
    return list(MODES) if TIMESCALEDB_INSTALLED else ["postgres"]


EARLIER = ["0001", "0002", "0003", "0004"]


@pytest.mark.parametrize("mode", _modes())
@pytest.mark.parametrize("revision", EARLIER)
@pytest.mark.asyncio(loop_scope="session")
async def test_a_store_holding_data_migrates_from_every_earlier_revision(
    stack: StackUnderTest, mode: StorageMode, revision: str
) -> None:
    url = await empty_database_url()
    try:
        await asyncio.to_thread(upgrade, url, storage_mode=mode, revision=revision)
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(
                "INSERT INTO observations (feed, entity, metric, ts, value, src_partition,"
                " src_offset) VALUES ('salinity', 'CM-SAL-01', 'salinity_ppt', now(), 9.2, 0, 0)"
            )
        finally:
            await connection.close()
        await asyncio.to_thread(upgrade, url)
        engine = create_async_engine(sqlalchemy_url(url))
        try:
            async with engine.connect() as sa:
                assert await sa.run_sync(_differences) == []
                mode_now = await sa.scalar(
                    text("SELECT value FROM storage_info WHERE key = 'mode'")
                )
                kept = await sa.scalar(text("SELECT count(*) FROM observations"))
        finally:
            await engine.dispose()
        assert (mode_now, kept) == (mode, 1)
    finally:
        await drop_database(url)


@pytest.mark.parametrize("mode", _modes())
@pytest.mark.asyncio(loop_scope="session")
async def test_a_store_refuses_to_be_migrated_as_the_other_mode(
    stack: StackUnderTest, mode: StorageMode
) -> None:
    url = await empty_database_url()
    try:
        await asyncio.to_thread(upgrade, url, storage_mode=mode, revision="0001")
        other = "postgres" if mode == "timescaledb" else "timescaledb"
        with pytest.raises(StorageModeError, match=f"created in {mode} mode and cannot be"):
            await asyncio.to_thread(upgrade, url, storage_mode=other)
        await asyncio.to_thread(upgrade, url, storage_mode=mode)  # its own mode: fine
    finally:
        await drop_database(url)

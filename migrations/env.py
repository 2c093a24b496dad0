"""Alembic environment: runs migrations over asyncpg, in one transaction.

The storage mode (``timescaledb`` or ``postgres``) is chosen here, once, at migration time:
``IOC_STORAGE_MODE`` forces one; otherwise TimescaleDB when the extension is available.
"""

from __future__ import annotations

import asyncio
import os

import asyncpg
from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from services.common.db import sqlalchemy_url
from services.common.settings import CommonSettings
from services.common.storage_mode import StorageMode, check_recorded_mode, choose_storage_mode
from services.common.tables import metadata

config = context.config


def run_migrations(connection: Connection) -> None:
    requested = config.attributes.get("storage_mode") or os.environ.get("IOC_STORAGE_MODE")
    mode = _storage_mode(connection, requested)
    # The probe's implicit transaction ends here, so alembic begins (and owns) its own: its
    # autocommit blocks (continuous aggregates) need that.
    connection.commit()
    context.configure(
        connection=connection,
        target_metadata=metadata,
        transaction_per_migration=False,
    )
    context.config.attributes["chosen_storage_mode"] = mode
    with context.begin_transaction():
        context.run_migrations()


def _storage_mode(connection: Connection, requested: str | None) -> StorageMode:
    """The store's recorded mode, or for a new store the one chosen now."""
    available = connection.execute(
        text("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'")
    ).scalar_one()
    recorded = None
    if connection.execute(text("SELECT to_regclass('storage_info')")).scalar_one() is not None:
        recorded = connection.execute(
            text("SELECT value FROM storage_info WHERE key = 'mode'")
        ).scalar_one_or_none()
    if recorded is None:
        return choose_storage_mode(requested, timescaledb_available=bool(available))
    return check_recorded_mode(recorded, requested)


async def run_async() -> None:
    url = config.attributes.get("database_url") or CommonSettings.from_env().database_url
    # asyncpg itself opens the connection, from the store's own URL: TLS parameters in it
    # (sslmode=verify-full, sslrootcert, sslcert, sslkey) mean what they mean to asyncpg.
    engine = create_async_engine(sqlalchemy_url(url), async_creator=lambda: asyncpg.connect(url))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit(
        "offline (--sql) migrations are not supported: the storage mode needs a database"
    )
asyncio.run(run_async())

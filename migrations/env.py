"""Alembic environment: runs migrations over asyncpg, in one transaction.

The storage mode (``timescaledb`` or ``postgres``) is chosen here, once, at migration time:
``IOC_STORAGE_MODE`` forces one; otherwise TimescaleDB when the extension is available.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from services.common.db import sqlalchemy_url
from services.common.settings import CommonSettings
from services.common.storage_mode import choose_storage_mode
from services.common.tables import metadata

config = context.config


def run_migrations(connection: Connection) -> None:
    available = connection.execute(
        text("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'")
    ).scalar_one()
    requested = config.attributes.get("storage_mode") or os.environ.get("IOC_STORAGE_MODE")
    mode = choose_storage_mode(requested, timescaledb_available=bool(available))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        transaction_per_migration=False,
    )
    context.config.attributes["chosen_storage_mode"] = mode
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    url = config.attributes.get("database_url") or CommonSettings.from_env().database_url
    engine = create_async_engine(sqlalchemy_url(url))
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

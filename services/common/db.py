"""Database access shared by the services: asyncpg pools with the codecs the store needs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from services.common.storage_mode import StorageMode, check_recorded_mode

# The database is away or overloaded: retry later, never skip. For the worker anything else
# is a bug (it crashes); the API's background refreshers log it and keep their last answers.
DATABASE_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,  # the server is shutting down or restarting
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,
    asyncpg.LockNotAvailableError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)
DATABASE_ERRORS = (*DATABASE_UNAVAILABLE, asyncpg.PostgresError)

# The worker notifies this channel in each batch's transaction (so on commit): the API then
# refreshes the wall's indicators at once instead of at its next cadence.
INGESTED_CHANNEL = "ioc_ingested"


def sqlalchemy_url(database_url: str) -> str:
    """The same database, addressed through SQLAlchemy's asyncpg dialect (for Alembic)."""
    _, _, rest = database_url.partition("://")
    return f"postgresql+asyncpg://{rest}"


async def _init_connection(connection: Any) -> None:
    await connection.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )


async def create_pool(
    database_url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout_s: float = 60,
    setup: Callable[[Any], Awaitable[None]] | None = None,
) -> Any:
    """A statement running longer than ``statement_timeout_s`` is cancelled with TimeoutError.
    ``setup`` runs on every new connection (a reconnection after a restart too)."""

    async def init(connection: Any) -> None:
        await _init_connection(connection)
        if setup is not None:
            await setup(connection)

    return await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=init,
        command_timeout=statement_timeout_s,
        # No JIT: the services' statements are short, but on a store of many chunks the planner's
        # estimates pass jit_above_cost, and compiling cost more than the statement (a month's
        # series on a year's TimescaleDB store: 14 ms run, 150 to 300 ms with JIT; measured).
        server_settings={"jit": "off"},
    )


async def storage_mode(connection: Any) -> StorageMode | None:
    """The mode recorded at migration, or None before the store is migrated."""
    exists = await connection.fetchval("SELECT to_regclass('storage_info') IS NOT NULL")
    if not exists:
        return None
    value: str | None = await connection.fetchval(
        "SELECT value FROM storage_info WHERE key = 'mode'"
    )
    return None if value is None else check_recorded_mode(value, None)

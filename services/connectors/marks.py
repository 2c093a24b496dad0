"""The ``since`` marks in the store (``connector_marks``, migration 0013): all their SQL. A mark
is the field's raw value as the API gave it (text or a number), kept as JSON by the pool's codec."""

from __future__ import annotations

from datetime import datetime
from typing import Any


async def read_mark(connection: Any, connector: str) -> Any:
    """The connector's mark, or None before its first complete pull."""
    return await connection.fetchval(
        "SELECT mark FROM connector_marks WHERE connector = $1", connector
    )


async def save_mark(connection: Any, connector: str, mark: Any, *, now: datetime) -> None:
    await connection.execute(
        "INSERT INTO connector_marks (connector, mark, updated_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (connector) DO UPDATE SET mark = EXCLUDED.mark,"
        " updated_at = EXCLUDED.updated_at",
        connector,
        mark,
        now,
    )

"""All SQL of the feeds feature."""

from __future__ import annotations

from datetime import datetime
from typing import Any

NEWEST_EVENTS = "SELECT feed, max(ts) AS last_event FROM latest GROUP BY feed"


async def newest_events(connection: Any) -> dict[str, datetime]:
    rows = await connection.fetch(NEWEST_EVENTS)
    return {row["feed"]: row["last_event"] for row in rows}

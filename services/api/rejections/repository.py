"""All SQL of the rejections (quarantine) feature."""

from __future__ import annotations

from typing import Any

SELECT_REJECTIONS = """
SELECT id, topic, partition, "offset", reason, raw, rejected_at
FROM rejections
WHERE feed = $1 AND ($2::bigint IS NULL OR id < $2)
ORDER BY id DESC
LIMIT $3
"""


async def fetch_rejections(connection: Any, feed: str, before: int | None, limit: int) -> list[Any]:
    rows: list[Any] = await connection.fetch(SELECT_REJECTIONS, feed, before, limit)
    return rows

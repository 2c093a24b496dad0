"""Replaying quarantined records after a mapping fix: each goes back to its feed's raw topic, so
it passes through the same worker path as any record, and leaves the quarantine once Kafka holds
it again. A record that is still bad is quarantined anew, with its new offset and reason."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from services.common.intake.feed_intake import FeedIntake
from services.common.topics import Topics

CHUNK = 1000


async def replay_rejections(
    pool: Any,
    producer: AIOKafkaProducer,
    topics: Topics,
    intake: FeedIntake,
    *,
    progress: Callable[[int], None] = lambda replayed: None,
) -> int:
    """Replays every quarantined record of the intake's feed, each keyed by its entity (where
    one can be read) like the feed's other records; returns how many."""
    feed = intake.feed
    replayed = 0
    while True:
        async with pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                'SELECT id, topic, partition, "offset", raw FROM rejections WHERE feed = $1'
                " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
                feed,
                CHUNK,
            )
            if not rows:
                return replayed
            deliveries = [
                await producer.send(
                    topics.raw(feed),
                    value=row["raw"],
                    key=intake.key_of(row["raw"]),
                    headers=[
                        ("replay_of", f"{row['topic']}/{row['partition']}/{row['offset']}".encode())
                    ],
                )
                for row in rows
            ]
            await asyncio.gather(*deliveries)
            # Only once the broker holds every record again does it leave the quarantine.
            await connection.execute(
                "DELETE FROM rejections WHERE id = ANY($1::bigint[])", [row["id"] for row in rows]
            )
        replayed += len(rows)
        progress(replayed)

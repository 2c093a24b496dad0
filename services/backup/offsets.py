"""After a restore: the workers' consumer group pointed back at what the store holds.

The store keeps, per source partition, the offset up to which its records are written
(``feed_count_marks``, advanced in each batch's own transaction), so a store restored to a point
in time knows exactly where its data ends. Kafka's committed offsets are past that; rewinding
them to the store's marks makes the workers ingest again what the restore took away, and the
idempotent upserts take each record once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from services.backup.pgbackrest import BackupError
from services.common.kafka import KafkaConnection, admin_client

MARKS = "SELECT topic, partition, counted_until FROM feed_count_marks"


async def wait_until_writable(database_url: str, within_s: float = 300) -> None:
    """Until the restored server has left recovery (promoted) and takes writes."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            connection = await asyncpg.connect(database_url, timeout=5)
            try:
                if not await connection.fetchval("SELECT pg_is_in_recovery()"):
                    return
            finally:
                await connection.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise BackupError(f"the restored store did not take writes within {within_s:g} s")
        await asyncio.sleep(0.5)


async def rewind_to_store(
    database_url: str, kafka: KafkaConnection, group: str, topics: list[str]
) -> dict[TopicPartition, int]:
    """Commits, for the group, each partition of ``topics`` at the store's mark (the beginning
    where the store holds nothing of it). Refused while the group has members."""
    await refuse_if_active(kafka, group)
    connection = await asyncpg.connect(database_url)
    try:
        marks = {
            (r["topic"], r["partition"]): r["counted_until"] for r in await connection.fetch(MARKS)
        }
    finally:
        await connection.close()
    partitions = await _partitions(kafka, topics)
    consumer = AIOKafkaConsumer(**kafka.client_options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        beginnings = await consumer.beginning_offsets(partitions)
        wanted = {
            tp: max(marks.get((tp.topic, tp.partition), 0), beginnings[tp]) for tp in partitions
        }
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in wanted.items()})
    finally:
        await consumer.stop()
    return wanted


async def _partitions(kafka: KafkaConnection, topics: list[str]) -> list[TopicPartition]:
    admin = admin_client(kafka)
    await admin.start()
    try:
        described: list[dict[str, Any]] = await admin.describe_topics(topics)
    finally:
        await admin.close()
    missing = [d["topic"] for d in described if d["error_code"] != 0]
    if missing:
        raise BackupError(f"no such topics on the broker: {', '.join(sorted(missing))}")
    return sorted(
        TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
    )


async def refuse_if_active(kafka: KafkaConnection, group: str) -> None:
    """Refuses while the group has members: a running worker would write into the store being
    replaced, and commit over the rewound offsets."""
    admin = admin_client(kafka)
    await admin.start()
    try:
        described: Any = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    for description in described:
        for found in getattr(description, "groups", []) or []:
            members = found[5] if isinstance(found, tuple) else getattr(found, "members", [])
            if members:
                raise BackupError(
                    f"consumer group {group!r} has {len(members)} members: stop the workers first"
                )

"""The dead-letter topic: every rejected record's original bytes, with headers saying why."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from services.ingest.batch import Quarantined


async def send_dead_letters(producer: Any, topic: str, rejected: Sequence[Quarantined]) -> None:
    """Returns once the broker has acknowledged every dead letter (acks=all)."""
    deliveries = [
        await producer.send(
            topic,
            value=record.raw,
            headers=[
                ("reason", record.reason.encode()),
                ("feed", record.feed.encode()),
                ("source_topic", record.topic.encode()),
                ("source_partition", str(record.partition).encode()),
                ("source_offset", str(record.offset).encode()),
            ],
        )
        for record in rejected
    ]
    await asyncio.gather(*deliveries)

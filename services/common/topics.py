"""Kafka topics: one raw topic per feed and the dead-letter topic, created explicitly."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

DLQ_TOPIC = "ioc.dlq"
RAW_PARTITIONS = 3  # room for several workers to share a feed on this 2-core box
DLQ_PARTITIONS = 1


def raw_topic(feed: str) -> str:
    return f"ioc.raw.{feed}"


async def ensure_topics(bootstrap: str, partitions_by_topic: dict[str, int]) -> list[str]:
    """Create the topics that do not exist yet; returns the names it created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name=name, num_partitions=count, replication_factor=1)
            for name, count in partitions_by_topic.items()
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process created them meanwhile: the outcome we wanted
        return [topic.name for topic in missing]
    finally:
        await admin.close()


def pipeline_topics(feeds: Iterable[str]) -> dict[str, int]:
    topics = {raw_topic(feed): RAW_PARTITIONS for feed in feeds}
    topics[DLQ_TOPIC] = DLQ_PARTITIONS
    return topics

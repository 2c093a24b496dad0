"""Kafka topics: one raw topic per feed and the dead-letter topic, created explicitly.

A namespace (``IOC_TOPIC_NAMESPACE``, empty by default) prefixes every name, so tests and
benchmarks get topics of their own on a shared broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code

from services.common.kafka import KafkaConnection, admin_client

# Partitions a raw topic: six share evenly among 1, 2, 3 or 6 workers (one a core: two on the
# 2-core VM, three pods on Kubernetes). With three, two workers got 2:1 of a feed, and under a
# push load the busier one ran at its limit: its batches swelled and the wall's p99 with them.
RAW_PARTITIONS = 6
DLQ_PARTITIONS = 1
# A raw record's header naming the page a pull connector took it from; the worker adds it to a
# quarantined record's reason.
PULLED_FROM = "pulled_from"


@dataclass(frozen=True, slots=True)
class Topics:
    namespace: str = ""

    def raw(self, feed: str) -> str:
        return f"{self.namespace}ioc.raw.{feed}"

    @property
    def dlq(self) -> str:
        return f"{self.namespace}ioc.dlq"

    def partitions(self, feeds: Iterable[str]) -> dict[str, int]:
        """Every topic the pipeline needs, with its partition count."""
        topics = {self.raw(feed): RAW_PARTITIONS for feed in feeds}
        topics[self.dlq] = DLQ_PARTITIONS
        return topics


class TopicsRefused(Exception):
    """The broker would not create a topic; the message names each one and the reason."""


async def ensure_topics(kafka: KafkaConnection, partitions_by_topic: dict[str, int]) -> list[str]:
    """Create the topics that do not exist yet; returns the names it created."""
    admin = admin_client(kafka, request_timeout_ms=30_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        replication = await _cluster_replication(admin)
        missing = [
            NewTopic(name=name, num_partitions=count, replication_factor=replication)
            for name, count in partitions_by_topic.items()
            if name not in existing
        ]
        if missing:
            answer = await admin.create_topics(missing)
            _raise_refusals(answer.topic_errors)
        await _until_led(admin, list(partitions_by_topic))
        return [topic.name for topic in missing]
    finally:
        await admin.close()


def _raise_refusals(topic_errors: list[tuple[Any, ...]]) -> None:
    """The broker answers for each topic in its response, which the client does not raise: a
    refused topic is said here by name and reason, not found later as one with no leader. One
    that exists already (another process made it meanwhile) is the outcome wanted."""
    refused = []
    for topic, code, *message in topic_errors:  # the message is there from version 1 on
        if code not in (0, TopicAlreadyExistsError.errno):
            detail = f" ({message[0]})" if message and message[0] else ""
            refused.append(f"{topic}: {for_code(code).__name__}{detail}")
    if refused:
        raise TopicsRefused("Kafka refused to create " + "; ".join(refused))


async def _cluster_replication(admin: AIOKafkaAdminClient) -> int:
    """The cluster's own default.replication.factor: 1 on the single-node stack, 3 on a cluster.
    Topics are replicated as the operators configured the brokers, whose defaults also give
    them min.insync.replicas and unclean leader election off (deploy/kafka/server.properties.in).
    """
    cluster = await admin.describe_cluster()
    broker = str(cluster["brokers"][0]["node_id"])
    wanted = ConfigResource(ConfigResourceType.BROKER, broker, {"default.replication.factor": None})
    (response,) = await admin.describe_configs([wanted])
    ((_, _, _, _, entries),) = response.resources
    ((_, value, *_),) = entries
    return int(value)


async def _until_led(admin: AIOKafkaAdminClient, topics: list[str], within_s: float = 30) -> None:
    """Returns once every partition of ``topics`` has a leader: a topic just created (or a broker
    just restarted) takes a moment to elect them, and a produce meanwhile would wait or fail."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        described = await admin.describe_topics(topics)
        leaderless = sorted(
            topic["topic"]
            for topic in described
            if topic["error_code"] != 0
            or not topic["partitions"]
            or any(p["error_code"] != 0 or p["leader"] < 0 for p in topic["partitions"])
        )
        if not leaderless:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"no partition leader within {within_s:g}s for {leaderless}")
        await asyncio.sleep(0.2)

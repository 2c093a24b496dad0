"""When each API key was last used, and which refused keys were presented, without a write per
request: a request notes its key's use in memory (a dict assignment), and every
``IOC_KEY_USAGE_EVERY_S`` (60 s) one statement writes what was noted, so each key costs at most
one write a minute per API process, whatever its request rate. A refused key is logged by its
prefix (never whole), at most once a minute per prefix: a wall left polling with a revoked key
is one line a minute, and says which key it holds."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from services.common.db import DATABASE_ERRORS
from services.common.keys import key_prefix, record_uses

log = logging.getLogger("ioc.api.keys")

EVERY = timedelta(minutes=1)
_REMEMBERED = 10_000  # refused prefixes remembered at most (a flood of made-up keys)
_SHOWABLE = re.compile(r"[A-Za-z0-9_-]+")


class KeyUsage:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._uses: dict[int, datetime] = {}  # key id -> its latest use not yet written
        self._refusals: dict[str, datetime] = {}  # prefix -> when last logged

    def used(self, key_id: int) -> None:
        self._uses[key_id] = self.clock()

    def take(self) -> dict[int, datetime]:
        """The uses noted since the last take, to be written."""
        uses, self._uses = self._uses, {}
        return uses

    def give_back(self, uses: dict[int, datetime]) -> None:
        """Uses that could not be written: kept for the next write, unless a newer one came."""
        for key_id, at in uses.items():
            self._uses.setdefault(key_id, at)

    def refused(self, key: str, reason: str) -> None:
        prefix = key_prefix(key)
        shown = f"{prefix}…" if _SHOWABLE.fullmatch(prefix) else "a malformed key"
        now = self.clock()
        last = self._refusals.get(shown)
        if last is not None and now - last < EVERY:
            return
        if len(self._refusals) >= _REMEMBERED:
            self._refusals.clear()
        self._refusals[shown] = now
        log.warning("refused API key %s: %s", shown, reason)


async def write_uses(pool: Any, usage: KeyUsage) -> None:
    """Writes the noted uses in one statement; on a store that is away they wait for the next."""
    uses = usage.take()
    if not uses:
        return
    try:
        async with pool.acquire() as connection:
            await record_uses(connection, uses)
    except DATABASE_ERRORS as error:
        usage.give_back(uses)
        log.warning("key uses not recorded: database unavailable (%r)", error)


async def keep_writing_uses(pool: Any, usage: KeyUsage, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        await write_uses(pool, usage)

"""How many streams each key holds open in this API process, capped: a key that opens one more
is answered 429. Per process, like the push rate limit: with N processes a key holds at most N
times the cap, which still bounds what one key can make the API keep open."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from services.api.push.rate_limit import TooManyRequests

# What a refused stream is told to wait: a stream ends when its reader goes, so a slot is free
# as soon as one of the key's screens closes.
RETRY_AFTER_S = 30


@dataclass(slots=True)
class StreamHolds:
    per_key: int  # the most streams one key holds open at once
    _open: dict[int, int] = field(default_factory=dict)  # key id -> streams open

    def hold(self, key_id: int) -> Callable[[], None]:
        """Counts one more stream of the key, or raises 429 where it holds ``per_key``; returns
        the call that lets it go (once, however often it is called)."""
        held = self._open.get(key_id, 0)
        if held >= self.per_key:
            raise TooManyRequests(
                f"this key already holds {held} open streams, the most one key may "
                f"(IOC_STREAM_MAX_PER_KEY); close one or retry later",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self._open[key_id] = held + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._open[key_id] - 1
            if left:
                self._open[key_id] = left
            else:
                del self._open[key_id]

        return release

    def held(self, key_id: int) -> int:
        return self._open.get(key_id, 0)

"""A token bucket per API key: one agency's flood never slows another's pushes.

Per API process: with N processes a key may reach N times the rate, which the limit's purpose
(fairness between agencies, protection of the broker) tolerates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from services.api.errors import ApiError


class TooManyRequests(ApiError):
    status_code = 429
    error = "too_many_requests"


@dataclass(slots=True)
class RateLimiter:
    rate_per_s: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)  # key -> tokens, at

    def take(self, key_id: int) -> None:
        """Spends one token of the key's bucket, or raises 429 with the wait in Retry-After."""
        now = self.clock()
        tokens, at = self._buckets.get(key_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate_per_s)
        if tokens < 1:
            wait = math.ceil((1 - tokens) / self.rate_per_s)
            self._buckets[key_id] = (tokens, now)
            raise TooManyRequests(
                f"more than {self.rate_per_s:g} pushes a second with this key; retry in {wait}s",
                headers={"Retry-After": str(wait)},
            )
        self._buckets[key_id] = (tokens - 1, now)

"""Keys recently found in the store, remembered for a few seconds: a wall display polling every
two seconds then costs no query per poll, and a revocation still reaches every API process
within ``ttl_s`` (the contract's "within seconds"). Unknown keys are never remembered."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from services.common.keys import Principal


class PrincipalCache:
    def __init__(
        self,
        ttl_s: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._found: OrderedDict[str, tuple[Principal, float]] = OrderedDict()  # hash -> until

    def get(self, key_hash: str) -> Principal | None:
        found = self._found.get(key_hash)
        if found is None:
            return None
        principal, until = found
        if self.clock() >= until:
            del self._found[key_hash]
            return None
        return principal

    def put(self, key_hash: str, principal: Principal) -> None:
        if self.ttl_s <= 0:
            return
        self._found[key_hash] = (principal, self.clock() + self.ttl_s)
        self._found.move_to_end(key_hash)
        while len(self._found) > self.max_entries:
            self._found.popitem(last=False)  # the oldest first

"""How many uploads this API process serves at once, capped: one more is answered 503 with a
Retry-After. Each upload holds its file (up to IOC_UPLOAD_MAX_BYTES) and its checked rows (up
to IOC_UPLOAD_MAX_ROWS) in memory and a thread reading them, so the cap is what bounds an API
process's memory when many units upload at the end of a reporting day."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from services.api.errors import Unavailable

# What a refused upload is told to wait: a 50,000-row workbook is read and produced in seconds.
RETRY_AFTER_S = 10


@dataclass(slots=True)
class UploadSlots:
    limit: int  # the most uploads served at once (IOC_UPLOAD_CONCURRENCY)
    taken: int = 0

    @contextmanager
    def one(self) -> Iterator[None]:
        """Holds a slot while the block runs, or raises 503 where all ``limit`` are taken."""
        if self.taken >= self.limit:
            raise Unavailable(
                f"this server is reading {self.taken} uploads now, the most it reads at once"
                " (IOC_UPLOAD_CONCURRENCY); nothing was read, retry later",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self.taken += 1
        try:
            yield
        finally:
            self.taken -= 1

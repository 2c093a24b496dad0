"""What the register tells the other features (the units' scorecards), so that none reads its
tables itself."""

from __future__ import annotations

from typing import Any

from services.api.reminders import repository


async def unresolved_by_unit(connection: Any) -> dict[str, int]:
    """Each unit's reminders not yet resolved, every rule together."""
    opened: dict[str, int] = {}
    for _, unit, count in await repository.open_counts(connection):
        opened[unit] = opened.get(unit, 0) + count
    return opened

"""Event-time bounds: a record from the future never pins a latest value, and history is only
accepted as far back as its feed allows. Pure: the clock's reading is passed in."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.common.canonical import Normalised, Rejection


def admit(
    record: Normalised, *, now: datetime, future_bound: timedelta, backfill: timedelta
) -> Normalised | Rejection:
    if record.ts > now + future_bound:
        ahead = record.ts - now
        return Rejection(
            f"time: {record.ts.isoformat()} is {_minutes(ahead)} ahead of the IOC clock "
            f"(at most {_minutes(future_bound)} allowed)"
        )
    if record.ts < now - backfill:
        return Rejection(
            f"time: {record.ts.isoformat()} is older than this feed's backfill bound "
            f"of {backfill.days} days"
        )
    return record


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"

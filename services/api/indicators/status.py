"""An indicator's status: pure, from its value, the age of its data and its thresholds.

Data older than its feed's staleness deadline (``feeds.status.stale_after``) is ``stale``, never
``ok``, whatever its value says.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from services.api.feeds.status import stale_after
from services.api.indicators.definitions import Thresholds

Status = Literal["ok", "warning", "critical", "stale", "no_data"]


def status_of(
    value: float | None,
    as_of: datetime | None,
    *,
    cadence: timedelta,
    thresholds: Thresholds | None,
    now: datetime,
) -> Status:
    if as_of is None:
        return "no_data"
    if now - as_of > stale_after(cadence) or value is None:
        return "stale"
    if thresholds is None:
        return "ok"
    if thresholds.better == "higher":
        if value < thresholds.critical:
            return "critical"
        return "warning" if value < thresholds.warning else "ok"
    if value > thresholds.critical:
        return "critical"
    return "warning" if value > thresholds.warning else "ok"

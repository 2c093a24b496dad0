"""An indicator's status: pure, from its value, the age of its data and its thresholds.

Data older than twice its feed's cadence (plus five minutes of grace) is ``stale``, never ``ok``,
whatever its value says.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from services.common.indicators import Thresholds

Status = Literal["ok", "warning", "critical", "stale", "no_data"]
GRACE = timedelta(minutes=5)


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
    if now - as_of > 2 * cadence + GRACE or value is None:
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

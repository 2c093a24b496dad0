"""An indicator's history in time buckets, read from the rollups (exact in plain mode,
continuous aggregates in TimescaleDB mode) whose width divides the interval, else from the
observations themselves. State indicators (shares and counts of latest states) have no series."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.api.errors import ApiError, NotFound
from services.common.indicators import IndicatorDefinition

MAX_POINTS = 10_000  # a month at 5 minutes (8,640) for a Grafana panel
_INTERVAL = re.compile(r"^(\d+)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# (table, time column, aggregates of one bucket's count, sum, min, max)
_RAW = ("observations", "ts", "count(*)", "sum(value)", "min(value)", "max(value)")
_FIVE = ("observations_5m", "bucket", "sum(n)", "sum(total)", "min(minimum)", "max(maximum)")
_HOUR = ("observations_1h", "bucket", "sum(n)", "sum(total)", "min(minimum)", "max(maximum)")

SERIES = """
SELECT date_bin($1::interval, {time}, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS at,
       {count} FILTER (WHERE metric = $3) AS n,
       {total} FILTER (WHERE metric = $3) AS total,
       {minimum} FILTER (WHERE metric = $3) AS minimum,
       {maximum} FILTER (WHERE metric = $3) AS maximum,
       {total} FILTER (WHERE metric = $4) AS other
FROM {table}
WHERE feed = $2 AND metric IN ($3, $4) AND {time} >= $5 AND {time} < $6
GROUP BY 1
ORDER BY 1
"""


@dataclass(frozen=True, slots=True)
class Point:
    ts: datetime
    value: float


def parse_interval(text: str) -> timedelta:
    match = _INTERVAL.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ApiError(f"interval must look like 5m, 1h or 1d, got {text!r}")
    return timedelta(seconds=int(match.group(1)) * _SECONDS[match.group(2)])


async def series(
    connection: Any, d: IndicatorDefinition, start: datetime, end: datetime, interval: timedelta
) -> list[Point]:
    if d.kind in ("state_share", "state_count"):
        raise NotFound(f"{d.id} counts latest states: it has no series")
    if end <= start:
        raise ApiError("from must be before to")
    if (end - start) / interval > MAX_POINTS:
        raise ApiError(f"at most {MAX_POINTS} buckets: widen the interval or shorten the range")
    seconds = int(interval.total_seconds())
    table, time, count, total, minimum, maximum = (
        _HOUR if seconds % 3600 == 0 else _FIVE if seconds % 300 == 0 else _RAW
    )
    first, second = (d.numerator, d.denominator) if d.numerator else (d.metric, d.metric)
    rows = await connection.fetch(
        SERIES.format(
            table=table, time=time, count=count, total=total, minimum=minimum, maximum=maximum
        ),
        interval,
        d.feed,
        first,
        second,
        start,
        end,
    )
    points = []
    for row in rows:
        value = bucket_value(d.kind, row)
        if value is not None:
            points.append(Point(row["at"], round(value, 2)))
    return points


def bucket_value(kind: str, row: Any) -> float | None:
    """One bucket's value of an indicator of ``kind``, from its count, sum, minimum and maximum
    of the metric (``n``, ``total``, ``minimum``, ``maximum``) and the sum of the denominator
    (``other``). Every kind with a series is named: none falls through to another's rule."""
    if kind in ("latest_max", "window_max"):
        return row["maximum"]  # type: ignore[no-any-return]
    if kind == "window_min":
        return row["minimum"]  # type: ignore[no-any-return]
    if kind == "window_count":
        return float(row["n"]) if row["n"] else None
    if kind == "window_sum":
        return row["total"]  # type: ignore[no-any-return]
    if kind == "window_avg":
        return row["total"] / row["n"] if row["n"] else None
    if kind in ("ratio_of_sums", "latest_ratio"):
        if not row["other"]:
            return None
        return 100 * (row["total"] or 0) / row["other"]  # type: ignore[no-any-return]
    raise ValueError(f"indicators of kind {kind} have no series")

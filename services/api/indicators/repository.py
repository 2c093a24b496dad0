"""All SQL of the indicators feature: one query per kind, each over kept state (the latest
values and entities), or over an index range of a short window of observations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.common.indicators import IndicatorDefinition


@dataclass(frozen=True, slots=True)
class Part:
    """One group's sums: the whole province (part None) or one commune/ward."""

    part: str | None
    a: float | None  # hits, numerator, max, sum or mean, by kind
    b: float | None  # total or denominator, where the kind has one
    as_of: datetime | None


@dataclass(frozen=True, slots=True)
class Evaluation:
    value: float | None
    as_of: datetime | None
    updated_at: datetime | None
    breakdown: dict[str, float] | None = field(default=None)


LATEST_STATES = """
SELECT e.attributes ->> $4 AS part,
       count(*) FILTER (WHERE l.text = ANY($3::text[]))::float8 AS a,
       count(*)::float8 AS b,
       max(l.ts) AS as_of
FROM latest l
JOIN entities e ON e.feed = l.feed AND e.entity = l.entity
WHERE l.feed = $1 AND l.metric = $2 AND e.attributes @> $5::jsonb
GROUP BY 1
"""

LATEST_RATIO = """
SELECT e.attributes ->> $4 AS part,
       sum(l.value) FILTER (WHERE l.metric = $2) AS a,
       sum(l.value) FILTER (WHERE l.metric = $3) AS b,
       max(l.ts) AS as_of
FROM latest l
JOIN entities e ON e.feed = l.feed AND e.entity = l.entity
WHERE l.feed = $1 AND l.metric IN ($2, $3) AND e.attributes @> $5::jsonb
GROUP BY 1
"""

LATEST_MAX = """
SELECT e.attributes ->> $3 AS part, max(l.value) AS a, NULL::float8 AS b, max(l.ts) AS as_of
FROM latest l
JOIN entities e ON e.feed = l.feed AND e.entity = l.entity
WHERE l.feed = $1 AND l.metric = $2 AND e.attributes @> $4::jsonb
GROUP BY 1
"""

WINDOW_RATIO = """
SELECT e.attributes ->> $4 AS part,
       sum(o.value) FILTER (WHERE o.metric = $2) AS a,
       sum(o.value) FILTER (WHERE o.metric = $3) AS b,
       max(o.ts) AS as_of
FROM observations o
JOIN entities e ON e.feed = o.feed AND e.entity = o.entity
WHERE o.feed = $1 AND o.metric IN ($2, $3) AND o.ts > $6 AND o.ts <= $7
  AND e.attributes @> $5::jsonb
GROUP BY 1
"""

WINDOW_AGGREGATE = """
SELECT e.attributes ->> $3 AS part, {aggregate}(o.value)::float8 AS a, count(*)::float8 AS b,
       max(o.ts) AS as_of
FROM observations o
JOIN entities e ON e.feed = o.feed AND e.entity = o.entity
WHERE o.feed = $1 AND o.metric = $2 AND o.ts > $5 AND o.ts <= $6 AND e.attributes @> $4::jsonb
GROUP BY 1
"""

# The SQL aggregate of each window kind (its parts are combined in ``_combine``).
AGGREGATES = {
    "window_avg": "avg",
    "window_sum": "sum",
    "window_min": "min",
    "window_max": "max",
    "window_count": "count",
}

NEWEST = """
SELECT max(ts) AS as_of, max(updated_at) AS updated_at FROM latest
WHERE feed = $1 AND metric = ANY($2::text[])
"""


async def evaluate(connection: Any, d: IndicatorDefinition, now: datetime) -> Evaluation:
    parts = await _parts(connection, d, now)
    newest = await _newest(connection, d)
    if not parts:
        return Evaluation(None, newest["as_of"], newest["updated_at"])
    whole = _combine(d, parts)
    breakdown = None
    if d.breakdown is not None:
        breakdown = {
            p.part: value
            for p in parts
            if p.part is not None and (value := _value(d, p)) is not None
        }
    return Evaluation(_value(d, whole), whole.as_of, newest["updated_at"], breakdown)


async def _parts(connection: Any, d: IndicatorDefinition, now: datetime) -> list[Part]:
    attribute_filter = d.filter  # the pool's jsonb codec encodes it
    if d.kind in ("state_share", "state_count"):
        rows = await connection.fetch(
            LATEST_STATES, d.feed, d.metric, list(d.states), d.breakdown, attribute_filter
        )
    elif d.kind == "latest_ratio":
        rows = await connection.fetch(
            LATEST_RATIO, d.feed, d.numerator, d.denominator, d.breakdown, attribute_filter
        )
    elif d.kind == "latest_max":
        rows = await connection.fetch(LATEST_MAX, d.feed, d.metric, d.breakdown, attribute_filter)
    else:
        assert d.window_seconds is not None, "window kinds have a window (checked at load)"
        start = now - timedelta(seconds=d.window_seconds)
        if d.kind == "ratio_of_sums":
            rows = await connection.fetch(
                WINDOW_RATIO,
                d.feed,
                d.numerator,
                d.denominator,
                d.breakdown,
                attribute_filter,
                start,
                now,
            )
        else:
            rows = await connection.fetch(
                WINDOW_AGGREGATE.format(aggregate=AGGREGATES[d.kind]),
                d.feed,
                d.metric,
                d.breakdown,
                attribute_filter,
                start,
                now,
            )
    return [Part(r["part"], r["a"], r["b"], r["as_of"]) for r in rows]


def _combine(d: IndicatorDefinition, parts: list[Part]) -> Part:
    as_of = max((p.as_of for p in parts if p.as_of is not None), default=None)
    known = [p.a for p in parts if p.a is not None]
    if d.kind in ("latest_max", "window_max"):
        return Part(None, max(known, default=None), None, as_of)
    if d.kind == "window_min":
        return Part(None, min(known, default=None), None, as_of)
    if d.kind == "window_avg":  # a mean of means, weighted by each part's count
        count = sum(p.b or 0 for p in parts)
        total = sum((p.a or 0) * (p.b or 0) for p in parts)
        return Part(None, total / count if count else None, count, as_of)
    return Part(None, sum(p.a or 0 for p in parts), sum(p.b or 0 for p in parts), as_of)


def _value(d: IndicatorDefinition, p: Part) -> float | None:
    if d.kind in ("state_share", "ratio_of_sums", "latest_ratio"):
        if not p.b:
            return None
        return round(100 * (p.a or 0) / p.b, 2)
    if p.a is None:
        return None
    return round(p.a, 2)


async def _newest(connection: Any, d: IndicatorDefinition) -> Any:
    metrics = [m for m in (d.metric, d.numerator, d.denominator) if m is not None]
    return await connection.fetchrow(NEWEST, d.feed, metrics)

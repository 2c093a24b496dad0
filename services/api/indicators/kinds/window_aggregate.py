"""``window_avg`` / ``window_sum`` / ``window_min`` / ``window_max`` / ``window_count``: the
mean, sum, lowest, highest or number of ``metric`` observations over the last
``window_seconds``. One class; each kind is its SQL aggregate, its combination and its bucket."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from services.api.indicators.kinds import base

if TYPE_CHECKING:
    from services.api.indicators.definitions import IndicatorDefinition

# ``b`` is each group's count: it weighs a mean of means.
WINDOW_AGGREGATE = """
SELECT e.attributes ->> $3 AS part, {aggregate}(o.value)::float8 AS a, count(*)::float8 AS b,
       max(o.ts) AS as_of
FROM observations o
JOIN entities e ON e.feed = o.feed AND e.entity = o.entity
WHERE o.feed = $1 AND o.metric = $2 AND o.ts > $5 AND o.ts <= $6 AND e.attributes @> $4::jsonb
GROUP BY 1
"""


def _mean_of_means(parts: list[base.Part]) -> base.Part:
    count = sum(p.b or 0 for p in parts)
    total = sum((p.a or 0) * (p.b or 0) for p in parts)
    return base.Part(None, total / count if count else None, count, base.newest_as_of(parts))


class WindowAggregate(base.IndicatorKind):
    needs = ("metric", "window_seconds")

    def __init__(
        self,
        name: str,
        aggregate: str,
        combine: Callable[[list[base.Part]], base.Part],
        bucket_sql: str,
    ) -> None:
        self.name = name
        self._sql = WINDOW_AGGREGATE.format(aggregate=aggregate)
        self._combine = combine
        self.bucket_sql = bucket_sql

    async def parts(
        self, connection: Any, d: IndicatorDefinition, now: datetime
    ) -> list[base.Part]:
        assert d.window_seconds is not None, "checked at load: the kind needs it"
        start = now - timedelta(seconds=d.window_seconds)
        return base.parts_of(
            await connection.fetch(self._sql, d.feed, d.metric, d.breakdown, d.filter, start, now)
        )

    def combine(self, parts: list[base.Part]) -> base.Part:
        return self._combine(parts)

    def value(self, part: base.Part) -> float | None:
        return base.rounded(part.a)


WINDOW_AVG = WindowAggregate("window_avg", "avg", _mean_of_means, "total / nullif(n, 0)")
WINDOW_SUM = WindowAggregate("window_sum", "sum", base.summed, "total")
WINDOW_MIN = WindowAggregate("window_min", "min", base.extreme(min), "minimum")
WINDOW_MAX = WindowAggregate("window_max", "max", base.extreme(max), "maximum")
WINDOW_COUNT = WindowAggregate("window_count", "count", base.summed, "nullif(n, 0)::float8")

"""``latest_ratio``: 100 * Σ latest ``numerator`` / Σ latest ``denominator`` across entities;
``ratio_of_sums``: the same over every observation of the last ``window_seconds``. Both
combine by adding numerators and denominators; a bucket's ratio is of the bucket's sums."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from services.api.indicators.kinds import base

if TYPE_CHECKING:
    from services.api.indicators.definitions import IndicatorDefinition

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


class Ratio(base.IndicatorKind):
    bucket_sql = base.PERCENTAGE_SQL.format(a="total", b="other")

    def __init__(self, name: str, *, windowed: bool) -> None:
        self.name = name
        self.windowed = windowed
        self.needs = ("numerator", "denominator") + (("window_seconds",) if windowed else ())

    async def parts(
        self, connection: Any, d: IndicatorDefinition, now: datetime
    ) -> list[base.Part]:
        args = [d.feed, d.numerator, d.denominator, d.breakdown, d.filter]
        if not self.windowed:
            return base.parts_of(await connection.fetch(LATEST_RATIO, *args))
        assert d.window_seconds is not None, "checked at load: the kind needs it"
        start = now - timedelta(seconds=d.window_seconds)
        return base.parts_of(await connection.fetch(WINDOW_RATIO, *args, start, now))

    def combine(self, parts: list[base.Part]) -> base.Part:
        return base.summed(parts)

    def value(self, part: base.Part) -> float | None:
        return base.rounded(base.percentage(part.a, part.b))


LATEST_RATIO_KIND = Ratio("latest_ratio", windowed=False)
RATIO_OF_SUMS = Ratio("ratio_of_sums", windowed=True)

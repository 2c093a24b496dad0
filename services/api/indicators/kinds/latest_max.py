"""``latest_max``: the highest latest ``metric`` across entities."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.api.indicators.kinds import base

if TYPE_CHECKING:
    from services.api.indicators.definitions import IndicatorDefinition

LATEST_MAX = """
SELECT e.attributes ->> $3 AS part, max(l.value) AS a, NULL::float8 AS b, max(l.ts) AS as_of
FROM latest l
JOIN entities e ON e.feed = l.feed AND e.entity = l.entity
WHERE l.feed = $1 AND l.metric = $2 AND e.attributes @> $4::jsonb
GROUP BY 1
"""


_HIGHEST = base.extreme(max)


class LatestMax(base.IndicatorKind):
    name = "latest_max"
    needs = ("metric",)
    bucket_sql = "maximum"

    async def parts(
        self, connection: Any, d: IndicatorDefinition, now: datetime
    ) -> list[base.Part]:
        return base.parts_of(
            await connection.fetch(LATEST_MAX, d.feed, d.metric, d.breakdown, d.filter)
        )

    def combine(self, parts: list[base.Part]) -> base.Part:
        return _HIGHEST(parts)

    def value(self, part: base.Part) -> float | None:
        return base.rounded(part.a)


LATEST_MAX_KIND = LatestMax()

"""``state_share``: % of a feed's entities whose latest ``metric`` is one of ``states``;
``state_count``: how many they are. Counts of latest states have no history in buckets."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.api.indicators.kinds import base

if TYPE_CHECKING:
    from services.api.indicators.definitions import IndicatorDefinition

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


class LatestStates(base.IndicatorKind):
    needs = ("metric", "states")
    bucket_sql = None  # a count of latest states is of now

    def __init__(self, name: str, *, share: bool) -> None:
        self.name = name
        self.share = share

    async def parts(
        self, connection: Any, d: IndicatorDefinition, now: datetime
    ) -> list[base.Part]:
        return base.parts_of(
            await connection.fetch(
                LATEST_STATES, d.feed, d.metric, list(d.states), d.breakdown, d.filter
            )
        )

    def combine(self, parts: list[base.Part]) -> base.Part:
        return base.summed(parts)

    def value(self, part: base.Part) -> float | None:
        return base.rounded(base.percentage(part.a, part.b) if self.share else part.a)


STATE_SHARE = LatestStates("state_share", share=True)
STATE_COUNT = LatestStates("state_count", share=False)

"""``overdue_tasks``: how many of a feed's programme tasks are overdue on the province's day,
by the one rule the scorecards and reminders use (``Task.overdue``): reported overdue, or past
due and not done. A unit cannot lower it by not reporting. It counts latest states: no series."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.api.indicators.kinds import base
from services.api.programme.repository import tasks_of
from services.api.programme.tasks import Task
from services.common.province import province_day

if TYPE_CHECKING:
    from services.api.indicators.definitions import IndicatorDefinition


class OverdueTasks(base.IndicatorKind):
    name = "overdue_tasks"
    needs = ()
    bucket_sql = None  # tasks as they stand today

    async def parts(
        self, connection: Any, d: IndicatorDefinition, now: datetime
    ) -> list[base.Part]:
        today = province_day(now)
        groups: dict[str | None, list[Task]] = defaultdict(list)
        for task in await tasks_of(connection, [d.feed]):
            if all(task.attributes.get(name) == value for name, value in d.filter.items()):
                part = task.attributes.get(d.breakdown) if d.breakdown else None
                groups[None if part is None else str(part)].append(task)
        return [
            base.Part(
                part,
                float(sum(task.overdue(today) for task in tasks)),
                float(len(tasks)),
                max((t.reported_at for t in tasks if t.reported_at), default=None),
            )
            for part, tasks in groups.items()
        ]

    def combine(self, parts: list[base.Part]) -> base.Part:
        return base.summed(parts)

    def value(self, part: base.Part) -> float | None:
        return base.rounded(part.a)


OVERDUE_TASKS = OverdueTasks()

"""A programme task and the province's one rule of when it is overdue: reported overdue, or past
its due date (a province day) without being done. A unit cannot hide lateness by not reporting
it. The wall's ``overdue_tasks`` indicators, the scorecards and the reminders all ask
``overdue``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

TASK_DONE, TASK_OVERDUE, TASK_NOT_STARTED = "done", "overdue", "not_started"


@dataclass(frozen=True, slots=True)
class Task:
    """A programme task as its feed last said: the attributes ``lead`` (the lead unit, by
    name) and ``due`` (a date), the metric ``status``."""

    feed: str
    task: str
    title: str
    lead: str
    due: date | None
    status: str | None
    reported_at: datetime | None = None  # when its status was last reported
    attributes: Mapping[str, object] = field(default_factory=dict)

    def overdue(self, today: date) -> bool:
        """Reported overdue, or past its due date without being done (``today``: the
        province's day, ``province_day``)."""
        if self.status == TASK_DONE:
            return False
        return self.status == TASK_OVERDUE or (self.due is not None and self.due < today)

    def due_within(self, today: date, days: int) -> bool:
        return (
            self.status != TASK_DONE
            and self.due is not None
            and 0 <= (self.due - today).days <= days
        )

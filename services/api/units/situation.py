"""What an evaluation sees: the store's state at one moment, read once (repository.py) and then
judged by pure code (scorecards.py, the causes). Nothing here reads a clock or the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.api.feeds.window import Received
from services.api.programme.tasks import Task
from services.api.quality.schemas import FeedQuality
from services.common.feeds import FeedDefinition
from services.common.province import province_day
from services.common.units import Units


@dataclass(frozen=True, slots=True)
class Situation:
    now: datetime
    feeds: Mapping[str, FeedDefinition]
    units: Units
    quality: Mapping[str, FeedQuality]  # per feed, over the quality report's window
    received: Mapping[str, Received]  # per feed, the same window
    newest: Mapping[str, datetime]  # per feed, its newest event time
    newest_by_entity: Mapping[str, Mapping[str, datetime]]  # entity-reported feeds only
    tasks: tuple[Task, ...]
    # unit -> day -> its scorecard as stored that day (the scores, and what lagged), today's too
    history: Mapping[str, Mapping[date, Mapping[str, Any]]]

    @property
    def today(self) -> date:
        return province_day(self.now)

    def feeds_of(self, unit: str) -> list[FeedDefinition]:
        return [feed for feed in self.feeds.values() if feed.agency == unit]

    def tasks_of(self, unit: str) -> list[Task]:
        return [task for task in self.tasks if self.lead_of(task) == unit]

    def lead_of(self, task: Task) -> str | None:
        unit = self.units.named(task.lead)
        return unit.code if unit else None

    def unknown_leads(self) -> list[Task]:
        """Tasks whose lead unit no unit file names: shown in the quality report, never dropped."""
        return [task for task in self.tasks if self.lead_of(task) is None]

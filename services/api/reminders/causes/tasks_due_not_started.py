"""Programme tasks due within ``within_days`` days and not started: one reminder to their lead
unit, listing them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from services.api.programme.tasks import TASK_NOT_STARTED, Task
from services.api.reminders.causes import Found
from services.api.reminders.causes.tasks_overdue import new_tasks, task_figures
from services.api.units.situation import Situation

if TYPE_CHECKING:  # rules.py imports this module through the registry
    from services.api.reminders.rules import Rule
    from services.api.units.scorecards import DayScores


class TasksDueNotStarted:
    name = "tasks_due_not_started"

    def params(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        within = int(raw["within_days"])
        if within < 0:
            raise ValueError("within_days must not be negative")
        return {"within_days": within}

    def find(self, rule: Rule, situation: Situation, today: Mapping[str, DayScores]) -> list[Found]:
        within: int = rule.params["within_days"]
        by_unit: dict[str, list[Task]] = {}
        for task in situation.tasks:
            lead = situation.lead_of(task)
            if lead is None or task.status != TASK_NOT_STARTED:
                continue
            if task.due_within(situation.today, within):
                by_unit.setdefault(lead, []).append(task)
        return [
            Found(
                unit,
                rule.id,
                task_figures(
                    tasks,
                    f"đến hạn trong {within} ngày chưa triển khai",
                    f"due within {within} days, not started",
                ),
                days_covered=1,
            )
            for unit, tasks in sorted(by_unit.items())
        ]

    def follow_up(
        self, found: Found, told: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any] | None:
        return new_tasks(
            found, told, "mới sắp đến hạn chưa triển khai", "newly due soon, not started"
        )

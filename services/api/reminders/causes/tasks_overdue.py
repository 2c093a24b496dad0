"""Programme tasks reported overdue, or past their due date and not done: one reminder to
their lead unit, listing them. The figures are today's (``days_covered`` 1): a task's own due
date is its evidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from services.api.programme.tasks import Task
from services.api.reminders.causes import Found
from services.api.reminders.situation import Situation

if TYPE_CHECKING:  # rules.py imports this module through the registry
    from services.api.reminders.rules import Rule
    from services.api.reminders.scorecards import DayScores


class TasksOverdue:
    name = "tasks_overdue"

    def params(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        return {}

    def find(self, rule: Rule, situation: Situation, today: Mapping[str, DayScores]) -> list[Found]:
        by_unit: dict[str, list[Task]] = {}
        for task in situation.tasks:
            lead = situation.lead_of(task)
            if lead is not None and task.overdue(situation.today):
                by_unit.setdefault(lead, []).append(task)
        return [
            Found(unit, rule.id, task_figures(tasks, "quá hạn", "overdue"), days_covered=1)
            for unit, tasks in sorted(by_unit.items())
        ]


def task_figures(tasks: list[Task], vi: str, en: str) -> dict[str, Any]:
    """The tasks as the notice lists them: each with its due date, most urgent first."""
    ordered = sorted(tasks, key=lambda t: (t.due is None, t.due, t.task))
    return {
        "tasks": [
            {"task": t.task, "title": t.title, "due": t.due and t.due.isoformat()} for t in ordered
        ],
        "count": len(ordered),
        "vi": [f"{len(ordered)} nhiệm vụ {vi}:"]
        + [
            f"{t.task} — {t.title} (hạn {t.due.strftime('%d/%m/%Y') if t.due else 'chưa có'})"
            for t in ordered
        ],
        "en": [f"{len(ordered)} tasks {en}:"]
        + [f"{t.task} — {t.title} (due {t.due.isoformat() if t.due else 'none'})" for t in ordered],
    }

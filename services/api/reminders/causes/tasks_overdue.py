"""Programme tasks reported overdue, or past their due date and not done: one reminder to
their lead unit, listing them. The figures are today's (``days_covered`` 1): a task's own due
date is its evidence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from services.api.programme.tasks import Task
from services.api.reminders.causes import Found
from services.api.units.situation import Situation

if TYPE_CHECKING:  # rules.py imports this module through the registry
    from services.api.reminders.rules import Rule
    from services.api.units.scorecards import DayScores


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

    def follow_up(
        self, found: Found, told: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any] | None:
        return new_tasks(found, told, "mới quá hạn", "newly overdue")


def task_figures(tasks: list[Task], vi: str, en: str) -> dict[str, Any]:
    """The tasks as the notice lists them: each with its due date, most urgent first."""
    ordered = sorted(tasks, key=lambda t: (t.due is None, t.due, t.task))
    return _listed(
        [{"task": t.task, "title": t.title, "due": t.due and t.due.isoformat()} for t in ordered],
        vi,
        en,
    )


def new_tasks(
    found: Found, told: Sequence[Mapping[str, Any]], vi: str, en: str
) -> dict[str, Any] | None:
    """The tasks ``found`` lists that no notice ``told`` did, as a follow-up lists them."""
    known = {task["task"] for figures in told for task in figures.get("tasks", ())}
    new = [task for task in found.figures["tasks"] if task["task"] not in known]
    return _listed(new, vi, en) if new else None


def _listed(tasks: list[dict[str, Any]], vi: str, en: str) -> dict[str, Any]:
    due = [date.fromisoformat(t["due"]) if t["due"] else None for t in tasks]
    return {
        "tasks": tasks,
        "count": len(tasks),
        "vi": [f"{len(tasks)} nhiệm vụ {vi}:"]
        + [
            f"{t['task']} — {t['title']} (hạn {d.strftime('%d/%m/%Y') if d else 'chưa có'})"
            for t, d in zip(tasks, due, strict=True)
        ],
        "en": [f"{len(tasks)} tasks {en}:"]
        + [
            f"{t['task']} — {t['title']} (due {d.isoformat() if d else 'none'})"
            for t, d in zip(tasks, due, strict=True)
        ],
    }

"""The kinds of cause a reminder rule may name, one module each, found through ``CAUSE_KINDS``.

A kind reads its parameters from the rule's file and finds, in a situation, each unit the
cause holds for now, with the figures that show it (in Vietnamese and English lines for the
notice, and as numbers) and the days of the unit's scorecard they rest on. A cause is found
for as long as it is true of the unit, whatever else is true: found again, it is the same
open reminder; no longer found, it resolves it. Whether a cause found is worth a new reminder
is the evaluator's question (the rule's evidence, ``covered_by``), never a reason to leave a
cause out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from services.api.reminders.rules import Rule
    from services.api.units.scorecards import DayScores
    from services.api.units.situation import Situation


@dataclass(frozen=True, slots=True)
class Found:
    unit: str
    cause: str  # the rule, and the feed where the cause is one feed's: one reminder per both
    figures: Mapping[str, Any]  # "vi" and "en": lines for the notice; the rest: the numbers
    days_covered: int  # the days the IOC scored the unit that the figures rest on: evidence
    # Another unit whose reminder answers for this cause (a whole feed behind is its
    # department's, not each commune's): held, so an open reminder stays open, but no new one.
    covered_by: str | None = None


class CauseKind(Protocol):
    name: str

    def params(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        """The rule's parameters, checked; raises ValueError naming what is wrong."""
        ...

    def find(
        self, rule: Rule, situation: Situation, today: Mapping[str, DayScores]
    ) -> list[Found]: ...

    def follow_up(
        self, found: Found, told: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any] | None:
        """What ``found`` names one by one (a task) that none of the notices ``told`` did (the
        issued notice's figures, then each follow-up's): the figures of a follow-up notice,
        or None where nothing is new (always, for a cause that names nothing one by one)."""
        ...


def _registry() -> dict[str, CauseKind]:
    from services.api.reminders.causes import (
        missed_deadline,
        score_below,
        tasks_due_not_started,
        tasks_overdue,
    )

    kinds: list[CauseKind] = [
        missed_deadline.MissedDeadline(),
        score_below.ScoreBelow(),
        tasks_overdue.TasksOverdue(),
        tasks_due_not_started.TasksDueNotStarted(),
    ]
    return {kind.name: kind for kind in kinds}


CAUSE_KINDS: dict[str, CauseKind] = _registry()

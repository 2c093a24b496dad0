"""A unit's scorecard, pure: for the day being evaluated from the situation, and over 7 and 30
days from the stored days (the mean of each score over the days that have one).

- đúng, đủ, sạch, sống: the means over the unit's feeds (the quality report's scores); a
  commune/ward owns no feed, its own figures on time are its timeliness alone;
- timeliness: the share of the unit's obligations on time now (a feed live; a daily figure
  held by its deadline); what lags, and by how much, in ``lagging``;
- quarantine ratio: quarantined records over received ones, its feeds together;
- the programme: tasks it leads, done, overdue, due within 14 days and not done, completion;
- the score the ranking orders by: the mean of the scores the unit has, each figure once;
  units are ranked within their kind (a ward's one or two scores never against a department's
  six).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol, TypeVar, get_args

from services.api.feeds.status import days_behind, feed_status
from services.api.feeds.window import Received
from services.api.programme.tasks import TASK_DONE
from services.api.quality import scores
from services.api.units.situation import Situation
from services.common.units import Unit, UnitKind

UnitHistory = Mapping[date, Mapping[str, Any]]  # a unit's stored days: its scores, what lagged
DUE_SOON_DAYS = 14
SCORES = ("correct", "sufficient", "clean", "live", "timeliness", "completion_rate")
WINDOWS = (7, 30)


@dataclass(frozen=True, slots=True)
class DayScores:
    correct: float | None = None
    sufficient: float | None = None
    clean: float | None = None
    live: float | None = None
    timeliness: float | None = None
    quarantine_ratio: float | None = None
    tasks_assigned: int = 0
    tasks_done: int = 0
    tasks_overdue: int = 0
    tasks_due_soon: int = 0
    completion_rate: float | None = None
    score: float | None = None
    lagging: list[dict[str, Any]] = field(default_factory=list)

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def day_scores(unit: Unit, situation: Situation) -> DayScores:
    feeds = (
        _feed_scores(unit, situation)
        if unit.kind == "department"
        else _own_figures(unit, situation)
    )
    tasks = situation.tasks_of(unit.code)
    done = sum(task.status == TASK_DONE for task in tasks)
    programme = {
        "tasks_assigned": len(tasks),
        "tasks_done": done,
        "tasks_overdue": sum(task.overdue(situation.today) for task in tasks),
        "tasks_due_soon": sum(task.due_within(situation.today, DUE_SOON_DAYS) for task in tasks),
        "completion_rate": round(done / len(tasks), 4) if tasks else None,
    }
    partial = {**feeds, **programme}
    return DayScores(**partial, score=scores.mean(partial.get(name) for name in SCORES))


def _feed_scores(unit: Unit, situation: Situation) -> dict[str, Any]:
    feeds = situation.feeds_of(unit.code)
    quality = [situation.quality[feed.feed] for feed in feeds if feed.feed in situation.quality]
    received = [situation.received.get(feed.feed, Received(0, 0, 0)) for feed in feeds]
    records = sum(r.records for r in received)
    lagging = []
    for feed in feeds:
        newest = situation.newest.get(feed.feed)
        if feed_status(newest, feed, situation.now) != "live":
            lagging.append({"feed": feed.feed, **_behind(feed.feed, newest, situation)})
    return {
        "correct": scores.mean(q.correct for q in quality),
        "sufficient": scores.mean(q.sufficient for q in quality),
        "clean": scores.mean(q.clean for q in quality),
        "live": scores.mean(q.live for q in quality),
        "timeliness": round(1 - len(lagging) / len(feeds), 4) if feeds else None,
        "quarantine_ratio": round(sum(r.quarantined for r in received) / records, 4)
        if records
        else None,
        "lagging": lagging,
    }


def _own_figures(unit: Unit, situation: Situation) -> dict[str, Any]:
    """A commune/ward: the figures it sends itself (entity-reported daily feeds)."""
    on_time, lagging = [], []
    for feed_name, newest_by_entity in situation.newest_by_entity.items():
        feed = situation.feeds[feed_name]
        behind = days_behind(newest_by_entity.get(unit.code), feed, situation.now)
        on_time.append(behind == 0)
        if behind is None:
            lagging.append({"feed": feed_name, "entity": unit.code, "never_sent": True})
        elif behind != 0:
            lagging.append({"feed": feed_name, "entity": unit.code, "days_behind": behind})
    if not on_time:
        return {}
    return {"timeliness": scores.mean(1.0 if ok else 0.0 for ok in on_time), "lagging": lagging}


def _behind(feed: str, newest: Any, situation: Situation) -> dict[str, Any]:
    definition = situation.feeds[feed]
    if newest is None:
        return {"never_sent": True}
    if definition.due is not None:
        return {"days_behind": days_behind(newest, definition, situation.now)}
    late = situation.now - newest - timedelta(seconds=definition.cadence_seconds)
    return {"late_by_s": max(int(late.total_seconds()), 0)}


def never_sent_since(history: UnitHistory, feed: str) -> date | None:
    """From when the IOC has expected ``feed`` of a unit that has never sent it: the first of
    the stored days, back from the newest without a break, whose scorecard has it as never
    sent (a day the IOC did not run breaks nothing: the feed was not sent then either). The
    scorecard is the IOC's own record of what it expected of the unit each day, so a feed added
    later, a unit added later or a fresh install counts from its first day, not from the
    beginning of time. None where the newest stored day does not have it so."""
    since = None
    for day in sorted(history, reverse=True):
        lagging = history[day].get("lagging") or []
        if not any(lag.get("feed") == feed and lag.get("never_sent") for lag in lagging):
            break
        since = day
    return since


def days_scored(history: UnitHistory, first: date, last: date) -> int:
    """How many days from ``first`` to ``last`` (both included) the unit's scorecard was kept:
    the days the IOC saw for itself."""
    return sum(first <= day <= last for day in history)


def over_days(history: UnitHistory, today: date, days: int) -> dict[str, Any]:
    """Each score's mean over the ``days`` local days ending today, over the days that have it;
    and how many days were scored, and on how many every obligation was on time."""
    window = [scores_ for day, scores_ in history.items() if 0 <= (today - day).days < days]
    names = (*SCORES, "score", "quarantine_ratio")
    means = {name: scores.mean(day.get(name) for day in window) for name in names}
    on_time = sum(day.get("timeliness") == 1.0 for day in window)
    return {**means, "days_scored": len(window), "days_on_time": on_time}


@dataclass(frozen=True, slots=True)
class Ranked:
    unit: str
    kind: UnitKind
    score: float
    rank: int  # within its kind
    movement: int | None  # places gained within its kind since the week before (negative: lost)


def ranking(
    history: Mapping[str, UnitHistory], kinds: Mapping[str, UnitKind], today: date, days: int = 7
) -> list[Ranked]:
    """Units by their score over ``days`` days within their kind (departments among
    departments, communes among communes), each kind best first (ties by code), departments
    first; movement against the same ranking a week earlier. A unit of no known kind is left
    out."""
    ranked = []
    for kind in get_args(UnitKind):
        of_kind = {unit: days_ for unit, days_ in history.items() if kinds.get(unit) == kind}
        before = {
            unit: place
            for place, (unit, _) in enumerate(_order(of_kind, today - timedelta(days=7), days), 1)
        }
        ranked += [
            Ranked(unit, kind, score, place, before[unit] - place if unit in before else None)
            for place, (unit, score) in enumerate(_order(of_kind, today, days), 1)
        ]
    return ranked


def _order(history: Mapping[str, UnitHistory], today: date, days: int) -> list[tuple[str, float]]:
    scored = [(unit, over_days(days_, today, days)["score"]) for unit, days_ in history.items()]
    return sorted(((u, s) for u, s in scored if s is not None), key=lambda us: (-us[1], us[0]))


class OfKind(Protocol):
    @property
    def kind(self) -> str: ...


K = TypeVar("K", bound=OfKind)


def leaders_and_laggards(ranked: Iterable[K], each: int = 3) -> tuple[list[K], list[K]]:
    """Within each kind, in the ranking's order: the ``each`` best, and the ``each`` weakest
    (weakest first) among the others: with few units ranked, no unit is both recognised and
    followed up."""
    by_kind: dict[str, list[K]] = {}
    for entry in ranked:
        by_kind.setdefault(entry.kind, []).append(entry)
    leaders: list[K] = []
    laggards: list[K] = []
    for order in by_kind.values():
        best = order[:each]
        leaders += best
        laggards += list(reversed(order[len(best) :]))[:each]
    return leaders, laggards


def scorecards_now(situation: Situation) -> dict[str, DayScores]:
    """Every unit's scores at the situation's moment."""
    return {code: day_scores(unit, situation) for code, unit in situation.units.by_code.items()}

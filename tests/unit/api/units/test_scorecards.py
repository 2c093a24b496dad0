"""Scorecards, the causes and the ranking, pure: from a situation made by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.api.feeds.window import Received
from services.api.programme.tasks import Task
from services.api.quality.schemas import FeedQuality
from services.api.reminders.rules import load_rules
from services.api.units.scorecards import day_scores, leaders_and_laggards, over_days, ranking
from services.api.units.situation import Situation
from tests.conftest import SCHEMAS_DIR
from tests.unit.api.units.situations import NOW, UNITS, local_day, situation

RULES = load_rules(SCHEMAS_DIR)


def found(rule: str, seen: Situation) -> list[tuple[str, str]]:
    today = {code: day_scores(unit, seen) for code, unit in UNITS.by_code.items()}
    return [(f.unit, f.cause) for f in RULES[rule].kind.find(RULES[rule], seen, today)]


def test_a_daily_feed_two_days_behind_reminds_its_department_not_each_ward() -> None:
    behind = local_day(25)
    seen = situation(
        newest={"admin-dossiers": behind},
        newest_by_entity={"admin-dossiers": {"32150": behind, "32201": behind}},
    )
    # Each ward behind still holds its cause (an open reminder of its own stays open), but the
    # department's reminder answers for it: no new one to the ward.
    today = {code: day_scores(unit, seen) for code, unit in UNITS.by_code.items()}
    rule = RULES["missed-deadline"]
    assert [(f.unit, f.covered_by) for f in rule.kind.find(rule, seen, today)] == [
        ("tthcc", None),
        ("32150", "tthcc"),
        ("32201", "tthcc"),
    ]


def test_a_ward_behind_while_the_feed_is_on_time_is_reminded_itself() -> None:
    seen = situation(
        newest={"admin-dossiers": local_day(27)},
        newest_by_entity={"admin-dossiers": {"32150": local_day(27), "32201": local_day(25)}},
    )
    assert found("missed-deadline", seen) == [("32201", "missed-deadline:admin-dossiers")]
    scores = day_scores(UNITS.by_code["32201"], seen)
    assert scores.timeliness == 0.0
    assert scores.lagging == [{"feed": "admin-dossiers", "entity": "32201", "days_behind": 2}]


def test_a_wards_own_figures_on_time_count_once_in_its_score() -> None:
    # On time with its figures, one task led and not done: half, not on time counted twice.
    seen = situation(
        newest_by_entity={"admin-dossiers": {"32150": local_day(27)}},
        tasks=(task("W", "UBND Xã Phú Tân", date(2026, 12, 31), "in_progress"),),
    )
    scores = day_scores(UNITS.by_code["32150"], seen)
    assert (scores.timeliness, scores.completion_rate) == (1.0, 0.0)
    assert scores.live is None  # sống is a feed's; a ward owns none
    assert scores.score == 0.5


def test_one_day_behind_is_late_but_not_yet_reminded() -> None:
    seen = situation(newest={"admin-dossiers": local_day(26)})
    assert found("missed-deadline", seen) == []
    before_the_deadline = situation(
        now=NOW - timedelta(hours=2), newest={"admin-dossiers": local_day(25)}
    )
    assert found("missed-deadline", before_the_deadline) == []  # the 27th is not due at 16:00


def task(code: str, lead: str, due: date | None, status: str | None) -> Task:
    return Task("programme-tasks", code, f"task {code}", lead, due, status)


def test_tasks_count_for_their_lead_unit_by_any_of_its_names() -> None:
    tasks = (
        task("A", "Sở Y tế", date(2026, 11, 20), "in_progress"),  # past due: overdue
        task("B", "Sở Y tế tỉnh", date(2026, 12, 31), "overdue"),  # reported overdue
        task("C", "Sở Y tế", date(2026, 12, 3), "not_started"),  # due within 14 (and 7) days
        task("D", "Sở Y tế", date(2026, 11, 1), "done"),
        task("E", "Ban không rõ", date(2026, 11, 1), "in_progress"),
    )
    seen = situation(tasks=tasks)
    scores = day_scores(UNITS.by_code["syt"], seen)
    assert (scores.tasks_assigned, scores.tasks_done) == (4, 1)
    assert (scores.tasks_overdue, scores.tasks_due_soon) == (2, 1)  # A and B; then C
    assert scores.completion_rate == 0.25
    assert found("task-overdue", seen) == [("syt", "task-overdue")]
    assert found("task-due-not-started", seen) == [("syt", "task-due-not-started")]
    assert [t.task for t in seen.unknown_leads()] == ["E"]


def test_a_department_scores_its_feeds_and_says_what_lags() -> None:
    live = FeedQuality(
        feed="salinity", status="live", correct=1.0, sufficient=0.9, clean=0.8, live=1.0
    )
    stale = FeedQuality(
        feed="air-quality", status="stale", correct=0.5, sufficient=None, clean=0.5, live=0.0
    )
    seen = situation(
        quality={"salinity": live, "air-quality": stale},
        received={"salinity": Received(90, 0, 10), "air-quality": Received(10, 5, 0)},
        newest={"salinity": NOW - timedelta(minutes=5), "air-quality": NOW - timedelta(hours=3)},
    )
    scores = day_scores(UNITS.by_code["snnmt"], seen)
    assert (scores.correct, scores.clean, scores.live) == (0.75, 0.65, 0.5)
    assert scores.sufficient == 0.9
    assert scores.timeliness == 0.5
    assert scores.quarantine_ratio == 0.05
    assert scores.lagging == [{"feed": "air-quality", "late_by_s": 2 * 3600}]
    assert scores.score == pytest.approx(round((0.75 + 0.9 + 0.65 + 0.5 + 0.5) / 5, 4))


def test_a_score_low_over_seven_days_reminds_only_below_its_threshold() -> None:
    today = NOW.date()
    days = {today - timedelta(days=n): {"live": live} for n, live in enumerate([0.9, 0.5, 0.6])}
    days[today - timedelta(days=9)] = {"live": 0.0}  # outside the 7 days
    seen = situation(history={"syt": days, "sxd": {today: {"live": 0.95}}})
    assert ("syt", "live-below") in found("live-below", seen)
    assert ("sxd", "live-below") not in found("live-below", seen)
    week = over_days(days, today, 7)
    assert week["live"] == pytest.approx(0.6667, abs=1e-4)
    assert (week["days_scored"], week["days_on_time"]) == (3, 0)


def test_the_ranking_orders_by_the_week_and_says_who_moved() -> None:
    today = date(2026, 11, 27)
    week_ago = today - timedelta(days=7)
    history = {
        "a": {today: {"score": 0.9}, week_ago: {"score": 0.2}},
        "b": {today: {"score": 0.5}, week_ago: {"score": 0.8}},
        "c": {today: {"score": 0.5}},
        "d": {week_ago: {"score": 0.1}},
    }
    ranked = ranking(history, dict.fromkeys(history, "department"), today)
    assert [(r.unit, r.rank, r.movement) for r in ranked] == [
        ("a", 1, 1),
        ("b", 2, -1),
        ("c", 3, None),
    ]
    leaders, laggards = leaders_and_laggards(ranked, each=2)
    assert [r.unit for r in leaders] == ["a", "b"]
    assert [r.unit for r in laggards] == ["c"]  # the rest, weakest first: never a leader twice


def test_units_are_ranked_within_their_kind_each_saying_its_kind() -> None:
    today = date(2026, 11, 27)
    week_ago = today - timedelta(days=7)
    history = {
        "32150": {today: {"score": 1.0}},  # a ward on time: never above a department's place
        "snnmt": {today: {"score": 0.7}, week_ago: {"score": 0.9}},
        "syt": {today: {"score": 0.8}, week_ago: {"score": 0.6}},
        "32201": {today: {"score": 0.4}, week_ago: {"score": 0.5}},
    }
    kinds = {code: unit.kind for code, unit in UNITS.by_code.items()}
    ranked = ranking(history, kinds, today)
    assert [(r.kind, r.unit, r.rank, r.movement) for r in ranked] == [
        ("department", "syt", 1, 1),
        ("department", "snnmt", 2, -1),
        ("commune", "32150", 1, None),
        ("commune", "32201", 2, -1),  # first of its kind a week ago, behind no department
    ]
    leaders, laggards = leaders_and_laggards(ranked, each=1)
    assert [(r.kind, r.unit) for r in leaders] == [("department", "syt"), ("commune", "32150")]
    assert [(r.kind, r.unit) for r in laggards] == [
        ("department", "snnmt"),
        ("commune", "32201"),
    ]

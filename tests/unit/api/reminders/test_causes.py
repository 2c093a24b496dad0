"""Causes found on what is true of the unit, pure: a feed or commune that never sent is the most
behind from the day the IOC began expecting it, every finding says the days it rests on, and a
rule asks for its evidence before it reminds."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.api.feeds.status import days_behind
from services.api.programme.tasks import Task
from services.api.reminders.causes import Found
from services.api.reminders.rules import RuleDefinitionError, load_rules
from services.api.units.scorecards import day_scores, never_sent_since
from services.api.units.situation import Situation
from tests.conftest import SCHEMAS_DIR
from tests.unit.api.units.situations import DOSSIERS, FEEDS, NOW, UNITS, local_day, situation

RULES = load_rules(SCHEMAS_DIR)


def scored(seen: Situation, days: list[int]) -> dict[str, dict[date, dict[str, Any]]]:
    """Every unit's scorecard as the evaluator stores it, on each of ``days`` of November, from
    the same situation at 18:00 local that day (nothing sent meanwhile)."""
    history: dict[str, dict[date, dict[str, Any]]] = {}
    for day in days:
        then = Situation(**{**_fields(seen), "now": NOW.replace(day=day)})
        for code, unit in UNITS.by_code.items():
            history.setdefault(code, {})[date(2026, 11, day)] = day_scores(unit, then).as_row()
    return history


def _fields(seen: Situation) -> dict[str, Any]:
    return {name: getattr(seen, name) for name in Situation.__dataclass_fields__}


def find(rule: str, seen: Situation) -> list[Found]:
    today = {code: day_scores(unit, seen) for code, unit in UNITS.by_code.items()}
    return RULES[rule].kind.find(RULES[rule], seen, today)


def test_a_feed_never_sent_is_behind_from_the_first_day_the_ioc_expected_it() -> None:
    nothing = situation()
    # A fresh install: one day scored, one deadline seen: not yet two days running.
    assert find("missed-deadline", replace_history(nothing, scored(nothing, [27]))) == []
    # Its second day: the department is reminded that the feed was never sent, over the two
    # days the IOC saw; the communes, who never sent either, are answered for by it.
    seen = replace_history(nothing, scored(nothing, [26, 27]))
    [department, *communes] = find("missed-deadline", seen)
    assert (department.unit, department.cause) == ("tthcc", f"missed-deadline:{DOSSIERS}")
    figures = department.figures
    assert (figures["days_behind"], figures["never_sent"]) == (2, True)
    assert (figures["from"], figures["to"], department.days_covered) == (
        "2026-11-26",
        "2026-11-27",
        2,
    )
    assert "chưa từng gửi số liệu; thiếu số liệu 2 ngày liên tiếp" in figures["vi"][0]
    assert {(f.unit, f.covered_by) for f in communes} == {
        (code, "tthcc") for code, unit in UNITS.by_code.items() if unit.kind == "commune"
    }


def test_a_feed_added_later_counts_from_its_own_first_day_not_the_installs() -> None:
    history = scored(situation(), [25, 26, 27])
    for day in (date(2026, 11, 20), date(2026, 11, 21)):  # scored before the feed existed
        history["tthcc"][day] = {"lagging": []}
    assert never_sent_since(history["tthcc"], DOSSIERS) == date(2026, 11, 25)
    [department, *_] = find("missed-deadline", situation(history=history))
    assert (department.figures["days_behind"], department.days_covered) == (3, 3)


def test_a_commune_that_never_sent_is_reminded_while_the_feed_is_on_time() -> None:
    on_time = situation(
        newest={DOSSIERS: local_day(27)},
        newest_by_entity={DOSSIERS: {code: local_day(27) for code in ("32002", "32005")}},
    )
    [never] = [
        lag
        for lag in day_scores(UNITS.by_code["32150"], on_time).lagging
        if lag["feed"] == DOSSIERS
    ]
    assert never == {"feed": DOSSIERS, "entity": "32150", "never_sent": True}
    seen = replace_history(on_time, scored(on_time, [26, 27]))
    found = {f.unit: f for f in find("missed-deadline", seen)}
    assert set(found) == {"32014", "32150", "32201"}  # the three that never sent
    assert all(f.covered_by is None and f.figures["never_sent"] for f in found.values())
    assert found["32150"].figures["days_behind"] == 2


def test_never_sent_counts_the_due_days_since_it_was_expected() -> None:
    feed = FEEDS[DOSSIERS]
    assert days_behind(None, feed, NOW) is None  # expected by nobody yet: not behind
    assert days_behind(None, feed, NOW, date(2026, 11, 27)) == 1
    before_the_deadline = NOW - timedelta(hours=2)  # 16:00: the 27th is not due yet
    assert days_behind(None, feed, before_the_deadline, date(2026, 11, 27)) == 0
    assert days_behind(None, feed, before_the_deadline, date(2026, 11, 25)) == 2


def test_a_weekly_mean_of_one_day_reminds_nobody() -> None:
    today = NOW.date()
    one_day = situation(history={"syt": {today: {"live": 0.0}}})
    [fresh] = [f for f in find("live-below", one_day) if f.unit == "syt"]
    assert fresh.days_covered == 1
    assert "over the 1 days scored" in fresh.figures["en"][0]
    assert not RULES["live-below"].evidenced(fresh)
    week = {today - timedelta(days=n): {"live": 0.0} for n in range(5)}
    [evidenced] = [
        f for f in find("live-below", situation(history={"syt": week})) if f.unit == "syt"
    ]
    assert evidenced.days_covered == 5
    assert RULES["live-below"].evidenced(evidenced)


def test_every_rule_states_its_evidence(tmp_path: Path) -> None:
    assert {rule: RULES[rule].evidence_days for rule in RULES} == {
        "clean-below": 5,
        "live-below": 5,
        "missed-deadline": 2,
        "task-due-not-started": 1,
        "task-overdue": 1,
    }
    folder = tmp_path / "reminders"
    folder.mkdir()
    rule = (SCHEMAS_DIR / "reminders" / "live-below.yaml").read_text(encoding="utf-8")
    (folder / "live-below.yaml").write_text(
        rule.replace("evidence_days: 5\n", ""), encoding="utf-8"
    )
    with pytest.raises(RuleDefinitionError, match="missing 'evidence_days'"):
        load_rules(tmp_path)
    (folder / "live-below.yaml").write_text(
        rule.replace("evidence_days: 5\n", "evidence_days: 8\n"), encoding="utf-8"
    )
    with pytest.raises(RuleDefinitionError, match="not be more than the 7 days"):
        load_rules(tmp_path)


def replace_history(seen: Situation, history: dict[str, dict[date, dict[str, Any]]]) -> Situation:
    return Situation(**{**_fields(seen), "history": history})


def test_old_figures_in_a_fresh_store_remind_once_the_ioc_saw_two_days_of_them() -> None:
    stale = situation(newest={DOSSIERS: local_day(20)})
    [first_day, *_] = find("missed-deadline", replace_history(stale, scored(stale, [27])))
    assert (first_day.figures["days_behind"], first_day.days_covered) == (7, 1)
    assert not RULES["missed-deadline"].evidenced(first_day)
    # The next morning, before its deadline: yesterday's figures still missing, seen twice.
    morning = Situation(**{**_fields(stale), "now": NOW + timedelta(hours=15)})
    history = scored(stale, [27])
    history["tthcc"][date(2026, 11, 28)] = {"lagging": []}
    [second_day, *_] = find("missed-deadline", replace_history(morning, history))
    assert (second_day.figures["days_behind"], second_day.days_covered) == (7, 2)
    assert RULES["missed-deadline"].evidenced(second_day)


def test_a_task_newly_overdue_is_told_in_a_follow_up_listing_only_what_is_new() -> None:
    def overdue(code: str) -> Task:
        return Task("programme-tasks", code, f"task {code}", "Sở Y tế", date(2026, 11, 20), None)

    rule = RULES["task-overdue"]
    [issued] = find("task-overdue", situation(tasks=(overdue("A"),)))
    [now] = find("task-overdue", situation(tasks=(overdue("A"), overdue("B"), overdue("C"))))
    added = rule.kind.follow_up(now, [issued.figures])
    assert added is not None
    assert [t["task"] for t in added["tasks"]] == ["B", "C"]
    assert added["vi"][0] == "2 nhiệm vụ mới quá hạn:"
    assert added["en"][1] == "B — task B (due 2026-11-20)"
    assert rule.kind.follow_up(now, [issued.figures, added]) is None  # told once
    # A cause that names nothing one by one has nothing to follow up.
    missed = RULES["missed-deadline"]
    [feed, *_] = find("missed-deadline", situation(newest={DOSSIERS: local_day(20)}))
    assert missed.kind.follow_up(feed, [feed.figures]) is None


def test_a_rule_of_an_unknown_kind_is_refused_naming_the_kinds(tmp_path: Any) -> None:
    (tmp_path / "reminders").mkdir()
    (tmp_path / "reminders" / "x.yaml").write_text("id: x\nkind: astrology\n", encoding="utf-8")
    with pytest.raises(RuleDefinitionError, match="kinds: missed_deadline, score_below"):
        load_rules(tmp_path)

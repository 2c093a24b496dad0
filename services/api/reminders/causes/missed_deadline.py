"""A daily feed without its figures past the deadline ``days`` days running. The feed's agency
is reminded; for an entity-reported feed (each commune/ward sends its own), each commune whose
own figures are behind is too, while the feed as a whole is on time. When the whole feed is
behind, the agency's pipe is the cause: a commune behind then still holds its cause (its open
reminder stays open, it is still behind) but no new one is issued to it (``covered_by``).

A feed or commune that has never sent is the most behind it can be: it misses every due day
since the IOC began expecting it, the first day its scorecard had it as never sent
(``scorecards.never_sent_since``), not since the beginning of time: a fresh install, or a
feed or unit added today, starts counting today. The figures name the due days they count and
cover, as ``days_covered``, how many days since the first missing one the IOC scored the unit
itself (at most the days missing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from services.api.feeds.status import days_behind, latest_due_day
from services.api.reminders.causes import Found
from services.api.units.scorecards import days_scored, never_sent_since
from services.api.units.situation import Situation
from services.common.feeds import FeedDefinition

if TYPE_CHECKING:  # rules.py imports this module through the registry
    from services.api.reminders.rules import Rule
    from services.api.units.scorecards import DayScores


class MissedDeadline:
    name = "missed_deadline"

    def params(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        days = int(raw["days"])
        if days < 1:
            raise ValueError("days must be at least 1")
        return {"days": days}

    def find(self, rule: Rule, situation: Situation, today: Mapping[str, DayScores]) -> list[Found]:
        days: int = rule.params["days"]
        found = []
        for feed in situation.feeds.values():
            if feed.due is None:
                continue
            whole = _missing(situation, feed, feed.agency, situation.newest.get(feed.feed))
            pipe_behind = whole is not None and whole.days >= days
            if whole is not None and pipe_behind:
                found.append(whole.found(rule, feed.agency, feed))
            if feed.reported_by != "entity":
                continue
            sent = situation.newest_by_entity.get(feed.feed, {})
            for unit in situation.units.by_code.values():
                if unit.kind != "commune":
                    continue
                own = _missing(situation, feed, unit.code, sent.get(unit.code))
                if own is not None and own.days >= days:
                    covered_by = feed.agency if pipe_behind else None
                    found.append(own.found(rule, unit.code, feed, covered_by))
        return found

    def follow_up(
        self, found: Found, told: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any] | None:
        return None  # one feed, one cause: nothing joins it


@dataclass(frozen=True, slots=True)
class _Missing:
    days: int  # due days missing, running to the newest due day
    first: date
    last: date
    never_sent: bool
    scored: int  # the days the IOC scored the unit since the first missing, at most ``days``

    def found(
        self, rule: Rule, unit: str, feed: FeedDefinition, covered_by: str | None = None
    ) -> Found:
        assert feed.due is not None
        due = feed.due.isoformat("minutes")
        span_vi = f"từ {self.first:%d/%m/%Y} đến {self.last:%d/%m/%Y}"
        span_en = f"{self.first.isoformat()} to {self.last.isoformat()}"
        if self.never_sent:
            vi = (
                f"Nguồn dữ liệu {feed.feed}: chưa từng gửi số liệu; thiếu số liệu {self.days} ngày"
                f" liên tiếp sau thời hạn {due} ({span_vi}, kể từ ngày IOC bắt đầu theo dõi)."
            )
            en = (
                f"Feed {feed.feed}: never sent; figures missing {self.days} days running past"
                f" the {due} deadline ({span_en}, since the IOC began expecting them)."
            )
        else:
            vi = (
                f"Nguồn dữ liệu {feed.feed}: thiếu số liệu {self.days} ngày liên tiếp sau thời"
                f" hạn {due} ({span_vi})."
            )
            en = (
                f"Feed {feed.feed}: figures missing {self.days} days running past the {due}"
                f" deadline ({span_en})."
            )
        return Found(
            unit=unit,
            cause=f"{rule.id}:{feed.feed}",
            figures={
                "feed": feed.feed,
                "days_behind": self.days,
                "never_sent": self.never_sent,
                "from": self.first.isoformat(),
                "to": self.last.isoformat(),
                "due": due,
                "vi": [vi],
                "en": [en],
            },
            days_covered=self.scored,
            covered_by=covered_by,
        )


def _missing(
    situation: Situation, feed: FeedDefinition, unit: str, newest: datetime | None
) -> _Missing | None:
    """The due days ``unit`` has not sent of ``feed``, or None where it is on time (or has
    never sent and was not yet expected)."""
    history = situation.history.get(unit, {})
    since = never_sent_since(history, feed.feed) if newest is None else None
    behind = days_behind(newest, feed, situation.now, since)
    if not behind:
        return None
    last = latest_due_day(feed, situation.now)
    first = last - timedelta(days=behind - 1)
    # The days the IOC scored the unit since the first day missing (today too: it sees
    # yesterday's figures missing before today's deadline), at most the days missing.
    scored = min(days_scored(history, first, situation.today), behind)
    return _Missing(behind, first, last, newest is None, scored)

"""A daily feed without its figures past the deadline ``days`` days running. The feed's agency
is reminded; for an entity-reported feed (each commune/ward sends its own), a unit whose own
figures are behind while the feed as a whole is on time is reminded instead (when the whole
feed is behind, the agency's pipe is the cause, not each commune)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from services.api.feeds.status import days_behind
from services.api.reminders.causes import Found
from services.api.reminders.situation import Situation

if TYPE_CHECKING:  # rules.py imports this module through the registry
    from services.api.reminders.rules import Rule
    from services.api.reminders.scorecards import DayScores


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
            behind = days_behind(situation.newest.get(feed.feed), feed, situation.now)
            if behind is not None and behind >= days:
                found.append(
                    _found(rule, feed.agency, feed.feed, feed.due.isoformat("minutes"), behind)
                )
                continue
            for entity, newest in situation.newest_by_entity.get(feed.feed, {}).items():
                unit = situation.units.by_code.get(entity)
                entity_behind = days_behind(newest, feed, situation.now)
                if unit is not None and entity_behind is not None and entity_behind >= days:
                    found.append(
                        _found(
                            rule, unit.code, feed.feed, feed.due.isoformat("minutes"), entity_behind
                        )
                    )
        return found


def _found(rule: Rule, unit: str, feed: str, due: str, behind: int) -> Found:
    return Found(
        unit=unit,
        cause=f"{rule.id}:{feed}",
        figures={
            "feed": feed,
            "days_behind": behind,
            "due": due,
            "vi": [
                f"Nguồn dữ liệu {feed}: thiếu số liệu {behind} ngày liên tiếp sau thời hạn {due}."
            ],
            "en": [f"Feed {feed}: figures missing {behind} days running past the {due} deadline."],
        },
    )

"""A department whose ``score`` (live: sống, clean: sạch) averaged under ``threshold`` over
the last ``days`` days (the stored days of its scorecard, today's included)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from services.api.reminders.causes import Found
from services.api.reminders.scorecards import over_days
from services.api.reminders.situation import Situation

if TYPE_CHECKING:  # rules.py imports this module through the registry
    from services.api.reminders.rules import Rule
    from services.api.reminders.scorecards import DayScores

NAMES = {
    "live": ("sống", "live"),
    "clean": ("sạch", "clean"),
    "correct": ("đúng", "correct"),
    "sufficient": ("đủ", "sufficient"),
}


class ScoreBelow:
    name = "score_below"

    def params(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        score, threshold, days = str(raw["score"]), float(raw["threshold"]), int(raw["days"])
        if score not in NAMES:
            raise ValueError(f"score must be one of {', '.join(NAMES)}, got {score!r}")
        if not 0 < threshold <= 1 or days < 1:
            raise ValueError("threshold must be in (0, 1] and days at least 1")
        return {"score": score, "threshold": threshold, "days": days}

    def find(self, rule: Rule, situation: Situation, today: Mapping[str, DayScores]) -> list[Found]:
        score, threshold, days = rule.params["score"], rule.params["threshold"], rule.params["days"]
        found = []
        for unit in situation.units.by_code.values():
            if unit.kind != "department":
                continue
            mean = over_days(situation.history.get(unit.code, {}), situation.today, days)[score]
            if mean is not None and mean < threshold:
                found.append(Found(unit.code, rule.id, _figures(score, mean, threshold, days)))
        return found


def _figures(score: str, mean: float, threshold: float, days: int) -> dict[str, Any]:
    vi, en = NAMES[score]
    return {
        "score": score,
        "mean": mean,
        "threshold": threshold,
        "days": days,
        "vi": [f"Chỉ số {vi} bình quân {days} ngày: {mean:.0%} (tối thiểu {threshold:.0%})."],
        "en": [f"{en.capitalize()} over {days} days: {mean:.0%} (at least {threshold:.0%})."],
    }

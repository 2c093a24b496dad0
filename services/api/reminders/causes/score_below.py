"""A department whose ``score`` (live: sống, clean: sạch) averaged under ``threshold`` over
the last ``days`` days (the stored days of its scorecard, today's included). The figures say
over how many days the mean was taken (``days_covered``): on a fresh install, one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from services.api.reminders.causes import Found
from services.api.units.scorecards import over_days
from services.api.units.situation import Situation

if TYPE_CHECKING:  # rules.py imports this module through the registry
    from services.api.reminders.rules import Rule
    from services.api.units.scorecards import DayScores

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
        if int(raw["evidence_days"]) > days:
            raise ValueError(f"evidence_days must not be more than the {days} days averaged")
        return {"score": score, "threshold": threshold, "days": days}

    def find(self, rule: Rule, situation: Situation, today: Mapping[str, DayScores]) -> list[Found]:
        score, threshold, days = rule.params["score"], rule.params["threshold"], rule.params["days"]
        found = []
        for unit in situation.units.by_code.values():
            if unit.kind != "department":
                continue
            window = over_days(situation.history.get(unit.code, {}), situation.today, days)
            mean, scored = window[score], window["days_scored"]
            if mean is not None and mean < threshold:
                figures = _figures(score, mean, threshold, days, scored)
                found.append(Found(unit.code, rule.id, figures, days_covered=scored))
        return found

    def follow_up(
        self, found: Found, told: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any] | None:
        return None  # one mean, one cause: nothing joins it


def _figures(score: str, mean: float, threshold: float, days: int, scored: int) -> dict[str, Any]:
    vi, en = NAMES[score]
    return {
        "score": score,
        "mean": mean,
        "threshold": threshold,
        "days": days,
        "vi": [
            f"Chỉ số {vi} bình quân {days} ngày: {mean:.0%} (tối thiểu {threshold:.0%}),"
            f" tính trên {scored} ngày có số liệu."
        ],
        "en": [
            f"{en.capitalize()} over {days} days: {mean:.0%} (at least {threshold:.0%}),"
            f" over the {scored} days scored."
        ],
    }

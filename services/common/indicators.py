"""Indicator definitions: what the wall shows is data under ``schemas/indicators/<id>.yaml``.

Kinds (each computed from kept state, see ``services/api/indicators/repository.py``):
- ``state_share``: % of a feed's entities whose latest ``metric`` is one of ``states``
- ``state_count``: how many entities' latest ``metric`` is one of ``states``
- ``ratio_of_sums``: 100 * Σ ``numerator`` / Σ ``denominator`` over the last ``window_seconds``
- ``latest_ratio``: 100 * Σ latest ``numerator`` / Σ latest ``denominator`` across entities
- ``latest_max``: the highest latest ``metric`` across entities
- ``window_avg`` / ``window_sum`` / ``window_min`` / ``window_max`` / ``window_count``: the mean,
  sum, lowest, highest or number of ``metric`` observations over the last ``window_seconds``
``filter`` keeps entities by attribute; ``breakdown`` names the attribute to group by.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from services.common.feeds import FeedDefinition, FeedDefinitionError

Kind = Literal[
    "state_share",
    "state_count",
    "ratio_of_sums",
    "latest_ratio",
    "latest_max",
    "window_avg",
    "window_sum",
    "window_min",
    "window_max",
    "window_count",
]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Thresholds:
    better: Literal["higher", "lower"]
    warning: float
    critical: float


@dataclass(frozen=True, slots=True)
class IndicatorDefinition:
    id: str
    title: dict[str, str]  # by language: vi, en
    unit: str
    feed: str
    kind: Kind
    metric: str | None
    states: tuple[str, ...]
    numerator: str | None
    denominator: str | None
    window_seconds: int | None
    filter: dict[str, str]
    breakdown: str | None
    thresholds: Thresholds | None


def load_indicators(
    schemas_dir: Path, feeds: dict[str, FeedDefinition]
) -> dict[str, IndicatorDefinition]:
    indicators = {}
    for path in sorted((schemas_dir / "indicators").glob("*.yaml")):
        try:
            definition = _definition(yaml.safe_load(path.read_text(encoding="utf-8")), feeds)
        except (KeyError, TypeError, ValueError) as error:
            raise FeedDefinitionError(f"{path}: {error!r}") from error
        if f"{definition.id}.yaml" != path.name:
            raise FeedDefinitionError(f"{path}: id {definition.id!r} must match the file name")
        indicators[definition.id] = definition
    return indicators


def _definition(raw: dict[str, Any], feeds: dict[str, FeedDefinition]) -> IndicatorDefinition:
    kind = raw["kind"]
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    if raw["feed"] not in feeds:
        raise ValueError(f"unknown feed {raw['feed']!r}")
    known_metrics = {metric.name for metric in feeds[raw["feed"]].metrics}
    for field in ("metric", "numerator", "denominator"):
        if field in raw and raw[field] not in known_metrics:
            raise ValueError(f"{field} {raw[field]!r} is not a metric of {raw['feed']}")
    needs = {
        "state_share": ("metric", "states"),
        "state_count": ("metric", "states"),
        "ratio_of_sums": ("numerator", "denominator", "window_seconds"),
        "latest_ratio": ("numerator", "denominator"),
        "latest_max": ("metric",),
        "window_avg": ("metric", "window_seconds"),
        "window_sum": ("metric", "window_seconds"),
        "window_min": ("metric", "window_seconds"),
        "window_max": ("metric", "window_seconds"),
        "window_count": ("metric", "window_seconds"),
    }[kind]
    missing = [field for field in needs if field not in raw]
    if missing:
        raise ValueError(f"kind {kind} needs {', '.join(missing)}")
    thresholds = raw.get("thresholds")
    return IndicatorDefinition(
        id=str(raw["id"]),
        title={str(k): str(v) for k, v in raw["title"].items()},
        unit=str(raw.get("unit", "")),
        feed=str(raw["feed"]),
        kind=kind,
        metric=raw.get("metric"),
        states=tuple(str(s) for s in raw.get("states", ())),
        numerator=raw.get("numerator"),
        denominator=raw.get("denominator"),
        window_seconds=int(raw["window_seconds"]) if "window_seconds" in raw else None,
        filter={str(k): str(v) for k, v in (raw.get("filter") or {}).items()},
        breakdown=raw.get("breakdown"),
        thresholds=Thresholds(
            better=thresholds["better"],
            warning=float(thresholds["warning"]),
            critical=float(thresholds["critical"]),
        )
        if thresholds
        else None,
    )

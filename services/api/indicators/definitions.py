"""Indicator definitions: what the wall shows is data under ``schemas/indicators/<id>.yaml``.

Each ``kind`` is an object of the registry in ``kinds/``, which says what it needs.
``filter`` keeps entities by attribute; ``breakdown`` names the attribute to group by.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from services.api.indicators.kinds import KINDS, IndicatorKind
from services.common.feeds import FeedDefinition


class IndicatorDefinitionError(ValueError):
    """An indicator file that cannot be used: the API refuses to start on it."""


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
    kind: IndicatorKind
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
            raise IndicatorDefinitionError(f"{path}: {error!r}") from error
        if f"{definition.id}.yaml" != path.name:
            raise IndicatorDefinitionError(f"{path}: id {definition.id!r} must match the file name")
        indicators[definition.id] = definition
    return indicators


def _definition(raw: dict[str, Any], feeds: dict[str, FeedDefinition]) -> IndicatorDefinition:
    kind = KINDS.get(raw["kind"])
    if kind is None:
        raise ValueError(f"unknown kind {raw['kind']!r}; one of {', '.join(KINDS)}")
    if raw["feed"] not in feeds:
        raise ValueError(f"unknown feed {raw['feed']!r}")
    known_metrics = {metric.name for metric in feeds[raw["feed"]].metrics}
    for field in ("metric", "numerator", "denominator"):
        if field in raw and raw[field] not in known_metrics:
            raise ValueError(f"{field} {raw[field]!r} is not a metric of {raw['feed']}")
    missing = [field for field in kind.needs if field not in raw]
    if missing:
        raise ValueError(f"kind {kind.name} needs {', '.join(missing)}")
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

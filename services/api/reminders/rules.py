"""Reminder rules as data (``schemas/reminders/*.yaml``): each names its kind of cause (a module
of ``causes/``), its parameters, the notice's title and what it asks, the time the unit has to
respond and when a reminder still open escalates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from services.api.reminders.causes import CAUSE_KINDS, CauseKind


class RuleDefinitionError(ValueError):
    """A rule file does not make sense; says which and why."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kind: CauseKind
    params: Mapping[str, Any]
    title: Mapping[str, str]  # vi, en
    asked: Mapping[str, str]  # vi, en
    respond_within: timedelta
    escalate_after: timedelta


def load_rules(schemas_dir: Path) -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for path in sorted((schemas_dir / "reminders").glob("*.yaml")):
        raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        try:
            kind = CAUSE_KINDS[raw["kind"]]
            rule = Rule(
                id=str(raw["id"]),
                kind=kind,
                params=kind.params(raw),
                title={"vi": str(raw["title"]["vi"]), "en": str(raw["title"]["en"])},
                asked={"vi": str(raw["asked"]["vi"]), "en": str(raw["asked"]["en"])},
                respond_within=timedelta(hours=float(raw["respond_within_hours"])),
                escalate_after=timedelta(hours=float(raw["escalate_after_hours"])),
            )
        except KeyError as error:
            known = ", ".join(sorted(CAUSE_KINDS))
            raise RuleDefinitionError(f"{path}: missing {error} (kinds: {known})") from None
        except (TypeError, ValueError) as error:
            raise RuleDefinitionError(f"{path}: {error}") from None
        if rule.id != path.stem:
            raise RuleDefinitionError(f"{path}: id {rule.id!r} must match its file name")
        rules[rule.id] = rule
    return rules

"""Reminder rules as data (``schemas/reminders/*.yaml``): each names its kind of cause (a module
of ``causes/``), its parameters, the evidence it needs before it reminds, the notice's title and
what it asks, the time the unit has to respond and when a reminder still open escalates.

``evidence_days``: a cause found is a new reminder only where its figures rest on at least
that many days the IOC scored the unit itself (``Found.days_covered``); with fewer, the cause
holds (an open reminder stays open) but nobody is written to yet. A fresh install, with one
day scored, reminds nobody of a weekly mean."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from services.api.reminders.causes import CAUSE_KINDS, CauseKind, Found


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
    evidence_days: int  # the days scored a cause's figures must rest on before it reminds

    def evidenced(self, found: Found) -> bool:
        """Whether the figures rest on enough days the IOC saw for itself to remind."""
        return found.days_covered >= self.evidence_days


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
                evidence_days=int(raw["evidence_days"]),
            )
            if rule.evidence_days < 1:
                raise ValueError("evidence_days must be at least 1")
        except KeyError as error:
            known = ", ".join(sorted(CAUSE_KINDS))
            raise RuleDefinitionError(f"{path}: missing {error} (kinds: {known})") from None
        except (TypeError, ValueError) as error:
            raise RuleDefinitionError(f"{path}: {error}") from None
        if rule.id != path.stem:
            raise RuleDefinitionError(f"{path}: id {rule.id!r} must match its file name")
        rules[rule.id] = rule
    return rules

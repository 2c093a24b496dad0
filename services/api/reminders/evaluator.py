"""One evaluation: score the units (``units/scoring.py``: the situation, each unit's scorecard
kept for the day), find every cause that holds, and bring the register in line: a cause that
holds with the evidence its rule asks for, answered by no other unit's reminder, is issued
(with its deliveries); a cause that no longer holds is resolved (saying when and how); a
reminder left open past its rule's time is escalated. One transaction under an advisory lock:
however many processes evaluate, they take turns, and the unique index keeps one open reminder
per unit and cause.

Causes start and end on what is true of the unit: an open reminder stays open while its cause
holds, whatever else changes (the evidence, the feed as a whole); an operator's resolution of
a cause that still holds stands until the evaluator sees the cause clear, and only a cause
that comes back after that is a new reminder. A reminder open under a rule no file defines any
more is refused (``UnknownRule``), at start and at every evaluation, never left open for ever."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from services.api.metrics import REMINDERS_OPEN
from services.api.reminders import channels, repository
from services.api.reminders.causes import Found
from services.api.reminders.channels import targets
from services.api.reminders.rules import Rule, RuleDefinitionError, load_rules
from services.api.reminders.settings import ReminderSettings
from services.api.reminders.status import ReminderStatus, may_become
from services.api.units.scoring import score
from services.common.db import DATABASE_UNAVAILABLE
from services.common.feeds import FeedDefinition
from services.common.province import ZONE
from services.common.units import Units, load_units

log = logging.getLogger("ioc.reminders")
ACTOR = "ioc"  # the register's name for the evaluator itself
MANUAL = "manual"  # the rule of a reminder issued by hand (`ioc reminders issue`)


@dataclass(frozen=True, slots=True)
class Reminding:
    """Everything an evaluation or a delivery needs besides the store and the clock."""

    feeds: Mapping[str, FeedDefinition]
    units: Units
    rules: Mapping[str, Rule]
    settings: ReminderSettings

    @classmethod
    def load(
        cls, schemas_dir: Path, feeds: Mapping[str, FeedDefinition], settings: ReminderSettings
    ) -> Reminding:
        """The units and rules under ``schemas_dir``, checked against the feeds, and the units
        against the channels' settings."""
        units = load_units(schemas_dir, feeds)
        channels.check(units, settings)
        return cls(feeds, units, load_rules(schemas_dir), settings)


class UnknownRule(RuleDefinitionError):
    """Reminders are open under a rule that no file defines (deleted or renamed): says which
    and what to do."""


def check_rules_known(rules: Mapping[str, Rule], unresolved: Mapping[str, list[int]]) -> None:
    """Every reminder not yet resolved has its rule (or was issued by hand), else UnknownRule
    naming each rule and its reminders."""
    unknown = {
        rule: ids for rule, ids in unresolved.items() if rule not in rules and rule != MANUAL
    }
    if unknown:
        named = "; ".join(
            f"rule {rule!r}: reminders {', '.join(map(str, ids))}" for rule, ids in unknown.items()
        )
        raise UnknownRule(
            f"reminders are open under rules no file in schemas/reminders/ defines ({named}):"
            " restore the rule's file, or resolve them (ioc reminders resolve ID --how ...)"
        )


async def check_register(pool: Any, reminding: Reminding) -> None:
    """At start: refuses a register with reminders open under an unknown rule (UnknownRule)."""
    async with pool.acquire() as connection:
        check_rules_known(reminding.rules, await repository.unresolved_by_rule(connection))


@dataclass(frozen=True, slots=True)
class Outcome:
    issued: int
    resolved: int
    escalated: int
    followed_up: int = 0


async def evaluate(pool: Any, reminding: Reminding, now: datetime) -> Outcome:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", repository.EVALUATION_LOCK)
        scored = await score(connection, reminding.feeds, reminding.units, now)
        found = {
            (f.unit, f.cause): (rule, f)
            for rule in reminding.rules.values()
            for f in rule.kind.find(rule, scored.situation, scored.now)
        }
        check_rules_known(reminding.rules, await repository.unresolved_by_rule(connection))
        outcome = await _reconcile(connection, reminding, found, now)
        opened = await repository.open_counts(connection)
    _publish(reminding, opened)
    if outcome.issued or outcome.resolved or outcome.escalated or outcome.followed_up:
        log.info(
            "reminders: %d issued, %d followed up, %d resolved, %d escalated",
            outcome.issued,
            outcome.followed_up,
            outcome.resolved,
            outcome.escalated,
        )
    return outcome


async def _reconcile(
    connection: Any,
    reminding: Reminding,
    found: Mapping[tuple[str, str], tuple[Rule, Found]],
    now: datetime,
) -> Outcome:
    issued = resolved = escalated = followed_up = 0
    held = {(r.unit, r.cause): r for r in await repository.open_reminders(connection)}
    standing = await repository.resolutions_held(connection)
    resolved_by_hand = {(r.unit, r.cause) for r in standing}
    for key, (rule, cause) in found.items():
        if key in held or key in resolved_by_hand:
            continue  # open already, or an operator's resolution stands while the cause holds
        if cause.covered_by is not None or not rule.evidenced(cause):
            continue
        new = await repository.issue(
            connection,
            unit=cause.unit,
            cause=cause.cause,
            rule=rule.id,
            figures={
                **cause.figures,
                "days_covered": cause.days_covered,
                "title": rule.title,
                "asked": rule.asked,
            },
            respond_by=now + rule.respond_within,
            now=now,
            actor=ACTOR,
        )
        if new is not None:
            issued += 1
            unit = reminding.units.by_code[cause.unit]
            await repository.add_deliveries(connection, new, "issued", targets(unit), now)
    for key, reminder in held.items():
        if reminder.rule == MANUAL:
            continue  # issued by hand (`ioc reminders issue`): resolved by hand
        rule_of = reminding.rules[reminder.rule]  # known: check_rules_known
        if key not in found:
            how = f"cause cleared: {rule_of.title['en'].lower()} no longer holds"
            resolved += await repository.resolve(connection, reminder.id, how, ACTOR, now)
            await repository.causes_cleared(connection, [reminder.id], now)
            continue
        cause = found[key][1]
        followed_up += await _follow_up(connection, reminding, rule_of, reminder, cause, now)
        escalates = may_become(reminder.status, ReminderStatus.ESCALATED)
        if escalates and now - reminder.issued_at >= rule_of.escalate_after:
            addressee = reminding.units.by_code.get(reminder.unit)
            above = reminding.units.by_code.get(addressee.escalate_to or "") if addressee else None
            if (
                addressee is not None
                and above is not None
                and await repository.escalate(connection, reminder.id, above.code, ACTOR, now)
            ):
                again = [*targets(above), *targets(addressee)]
                await repository.add_deliveries(connection, reminder.id, "escalated", again, now)
                escalated += 1
    # Resolutions that stood while their cause held: the cause no longer holds, so when it
    # comes back it is a new reminder.
    cleared = [r.id for r in standing if (r.unit, r.cause) not in found]
    if cleared:
        await repository.causes_cleared(connection, cleared, now)
    return Outcome(issued, resolved, escalated, followed_up)


async def _follow_up(
    connection: Any,
    reminding: Reminding,
    rule: Rule,
    reminder: repository.OpenReminder,
    cause: Found,
    now: datetime,
) -> bool:
    """What joined an open reminder's cause since its notices (a task newly overdue) is told to
    the unit in a numbered follow-up, delivered as the first was; the issued notice is left as
    issued. Whether anything is new is the cause's kind's to say."""
    new = rule.kind.follow_up(cause, reminder.told)
    unit = reminding.units.by_code.get(reminder.unit)
    if new is None or unit is None or not rule.evidenced(cause):
        return False
    number = await repository.follow_up(
        connection,
        reminder.id,
        figures={**new, "title": rule.title, "asked": rule.asked},
        respond_by=now + rule.respond_within,
        now=now,
        actor=ACTOR,
    )
    await repository.add_deliveries(
        connection, reminder.id, "follow_up", targets(unit), now, follow_up=number
    )
    return True


def _publish(reminding: Reminding, opened: list[tuple[str, str, int]]) -> None:
    """Every rule and unit, at zero where nothing is open: a series is set, never removed (with
    several API processes, a removed one would keep its last value in the shared files)."""
    counts = {(rule, unit): count for rule, unit, count in opened}
    for rule in [*reminding.rules, MANUAL]:
        for unit in reminding.units.by_code:
            counts.setdefault((rule, unit), 0)
    for (rule, unit), count in counts.items():
        REMINDERS_OPEN.labels(rule=rule, unit=unit).set(count)


def next_evaluation(reminding: Reminding, now: datetime) -> datetime:
    """The next regular evaluation, or a minute past the next daily deadline if sooner: a
    missed deadline is seen as it passes."""
    regular = now + timedelta(seconds=reminding.settings.evaluate_every_s)
    local = now.astimezone(ZONE)
    deadlines = []
    for feed in reminding.feeds.values():
        if feed.due is None:
            continue
        at = datetime.combine(local.date(), feed.due, tzinfo=ZONE) + timedelta(minutes=1)
        deadlines.append(at if at > local else at + timedelta(days=1))
    return min([regular, *deadlines])


async def keep_evaluating(pool: Any, reminding: Reminding, clock: Callable[[], datetime]) -> None:
    while True:
        try:
            await evaluate(pool, reminding, clock())
        except DATABASE_UNAVAILABLE as error:
            log.warning("reminders not evaluated: database unavailable (%r)", error)
        wait = (next_evaluation(reminding, clock()) - clock()).total_seconds()
        await asyncio.sleep(max(wait, 0.0))

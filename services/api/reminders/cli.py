"""``ioc reminders``: the register from the operator's terminal. ``list`` (the cause in words,
whether it was delivered); ``show`` one (why, its figures, deliveries and history); ``issue`` a
reminder by hand (a cause no rule describes: it is resolved by hand too); ``resolve`` one,
saying how; ``evaluate`` once and deliver what is due (the API processes do both on their own
schedule)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from services.api.reminders.status import ListedStatus
from services.common.command_errors import CommandError, using_store
from services.common.logs import redact
from services.common.province import ZONE
from services.common.settings import CommonSettings
from services.common.terminal import moment

if TYPE_CHECKING:  # imported when a command runs: the worker's process loads none of this
    from services.api.reminders.evaluator import Reminding


def add_commands(commands: Any) -> None:
    reminders = commands.add_parser("reminders", help="the register of reminders to units")
    actions = reminders.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="newest first, with status and cause")
    listing.add_argument("--unit")
    listing.add_argument("--status", choices=list(ListedStatus), type=ListedStatus)
    listing.set_defaults(run=_list)
    show = actions.add_parser("show", help="one reminder: why, its figures, deliveries, history")
    show.add_argument("reminder_id", type=int)
    show.set_defaults(run=_show)
    issue = actions.add_parser("issue", help="issue a reminder by hand, delivered as any other")
    issue.add_argument("--unit", required=True)
    issue.add_argument("--cause", required=True, help="what is wrong, in Vietnamese")
    issue.add_argument("--asked", required=True, help="what the unit is asked to do")
    issue.add_argument("--respond-within-hours", type=float, default=72)
    issue.set_defaults(run=_issue)
    resolve = actions.add_parser("resolve", help="resolve a reminder, saying how")
    resolve.add_argument("reminder_id", type=int)
    resolve.add_argument("--how", required=True)
    resolve.set_defaults(run=_resolve)
    once = actions.add_parser("evaluate", help="evaluate the rules now and deliver what is due")
    once.set_defaults(run=_evaluate)


def _reminding() -> tuple[CommonSettings, Reminding]:
    from services.api.reminders.evaluator import Reminding
    from services.api.reminders.rules import RuleDefinitionError
    from services.api.reminders.settings import ReminderSettings
    from services.common.feeds import load_feeds

    common = CommonSettings.from_env()
    feeds = load_feeds(common.schemas_dir)
    try:
        return common, Reminding.load(common.schemas_dir, feeds, ReminderSettings.from_env())
    except RuleDefinitionError as error:
        raise CommandError(str(error)) from error


async def _with_pool(common: CommonSettings, use: Any) -> Any:
    from services.common.db import create_pool

    with using_store(common.database_url):
        pool = await create_pool(common.database_url, min_size=1, max_size=2)
        try:
            return await use(pool)
        finally:
            await pool.close()


def _operator() -> str:
    from services.api.access import operator_actor

    return operator_actor(getpass.getuser())


def _list(args: argparse.Namespace) -> None:
    from services.api.reminders import repository

    common, _ = _reminding()

    async def fetch(pool: Any) -> list[dict[str, Any]]:
        async with pool.acquire() as connection:
            return await repository.reminders(connection, unit=args.unit, status=args.status)

    for line in render_list(asyncio.run(_with_pool(common, fetch))):
        print(line)


def render_list(rows: list[dict[str, Any]]) -> list[str]:
    """A line per reminder: its status, unit, when issued, whether delivered, and its cause in
    words (the cause's own figures where it gives them, else its rule's title)."""
    lines = [f"{'id':>5}  {'status':<12} {'unit':<8} {'issued':<23}  {'delivered':<14} cause"]
    for row in rows:
        lines.append(
            f"{row['id']:>5}  {row['status']:<12} {row['unit']:<8} "
            f"{moment(row['issued_at']):<23}  {delivered(row['deliveries']):<14} {in_words(row)}"
        )
    lines.append(f"{len(rows)} reminders, times in {ZONE.key}")
    return lines


def in_words(row: dict[str, Any]) -> str:
    figures = row["figures"]
    said = figures.get("en") or [figures.get("title", {}).get("en") or row["cause"]]
    return " ".join(str(line) for line in said)


def delivered(deliveries: list[dict[str, Any]]) -> str:
    """``2/2 delivered``, ``1/2, 1 failed``, ``0/1, trying``, ``0/1, 1 cancelled`` (its
    reminder resolved before it went out); ``no contact`` when nothing is addressed (a unit
    without e-mail or webhook)."""
    if not deliveries:
        return "no contact"
    counts = {status: 0 for status in ("delivered", "failed", "cancelled", "pending")}
    for delivery in deliveries:
        counts[delivery["status"]] += 1
    done = counts["delivered"]
    if done == len(deliveries):
        return f"{done}/{len(deliveries)} delivered"
    return (
        f"{done}/{len(deliveries)}"
        + (f", {counts['failed']} failed" if counts["failed"] else "")
        + (f", {counts['cancelled']} cancelled" if counts["cancelled"] else "")
        + (", trying" if counts["pending"] else "")
    )


def _show(args: argparse.Namespace) -> None:
    from services.api.reminders import repository

    common, _ = _reminding()

    async def fetch(pool: Any) -> dict[str, Any] | None:
        async with pool.acquire() as connection:
            return await repository.reminder(connection, args.reminder_id)

    row = asyncio.run(_with_pool(common, fetch))
    if row is None:
        raise CommandError(f"no reminder {args.reminder_id}")
    for line in render_one(row):
        print(line)


def render_one(row: dict[str, Any]) -> list[str]:
    """The reminder whole for an operator: its unit, status, why (the rule's title and the
    cause's words), what is asked, its figures, its times, each delivery and its history. A
    URL's token or password (a webhook's) is never printed."""
    figures = row["figures"]
    numbers = {k: v for k, v in figures.items() if k not in ("vi", "en", "title", "asked")}
    lines = [
        f"reminder {row['id']} ({row['id']}/PNV-IOC) to {row['unit']}: {row['status']}",
        f"why:          {figures.get('title', {}).get('en') or row['rule']}",
        *(f"              {line}" for line in figures.get("en", [])),
        f"asked:        {figures.get('asked', {}).get('en', '-')}",
        "figures:      " + (", ".join(f"{k}={v}" for k, v in sorted(numbers.items())) or "-"),
        f"cause:        {row['cause']} (rule {row['rule']})",
        f"issued:       {moment(row['issued_at'])}",
        f"respond by:   {moment(row['respond_by'])}",
    ]
    if row["acknowledged_at"] is not None:
        lines.append(f"acknowledged: {moment(row['acknowledged_at'])} by {row['acknowledged_by']}")
    if row["escalated_at"] is not None:
        lines.append(f"escalated:    {moment(row['escalated_at'])} to {row['escalated_to']}")
    if row["resolved_at"] is not None:
        lines.append(f"resolved:     {moment(row['resolved_at'])}: {row['resolution']}")
    lines.append(f"deliveries:   {delivered(row['deliveries'])}")
    for delivery in row["deliveries"]:
        when = f" {moment(_instant(delivery['delivered_at']))}" if delivery["delivered_at"] else ""
        lines.append(
            f"  {delivery['occasion']:<9} {delivery['channel']:<8} {redact(delivery['target'])}: "
            f"{delivery['status']}{when}, {_attempts(delivery['attempts'])}"
        )
        if delivery["last_error"] and delivery["status"] != "delivered":
            lines.append(f"            last error: {redact(delivery['last_error'])}")
    lines.append("history:")
    for event in row["events"]:
        detail = ", ".join(f"{k}={redact(str(v))}" for k, v in sorted(event["detail"].items()))
        lines.append(
            f"  {moment(_instant(event['at']))}  {event['event']:<15} by {event['actor']}"
            + (f"  ({detail})" if detail else "")
        )
    lines.append(f"times in {ZONE.key}")
    return lines


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


def _instant(value: datetime | str) -> datetime:
    """A time from the events' and deliveries' JSON (an ISO string), or one already parsed."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _issue(args: argparse.Namespace) -> None:
    from services.api.reminders import operations

    common, reminding = _reminding()
    unit = reminding.units.by_code.get(args.unit)
    if unit is None:
        raise CommandError(f"no unit {args.unit!r} (schemas/units/)")

    async def issue(pool: Any) -> int | None:
        async with pool.acquire() as connection, connection.transaction():
            return await operations.issue_by_hand(
                connection,
                unit,
                cause=args.cause,
                asked=args.asked,
                respond_within=timedelta(hours=args.respond_within_hours),
                now=datetime.now(UTC),
                actor=_operator(),
            )

    new = asyncio.run(_with_pool(common, issue))
    if new is None:
        raise CommandError("the same cause is already open for this unit")
    print(f"issued reminder {new} to {unit.code}; delivered by the API within seconds")


def _resolve(args: argparse.Namespace) -> None:
    from services.api.reminders import operations

    common, _ = _reminding()

    async def resolve(pool: Any) -> bool:
        async with pool.acquire() as connection, connection.transaction():
            return await operations.resolve(
                connection, args.reminder_id, args.how, _operator(), datetime.now(UTC)
            )

    if not asyncio.run(_with_pool(common, resolve)):
        raise CommandError(f"no unresolved reminder {args.reminder_id}")
    print(f"resolved reminder {args.reminder_id}")


def _evaluate(args: argparse.Namespace) -> None:
    from services.api.reminders.delivery import deliver_due
    from services.api.reminders.evaluator import evaluate
    from services.api.reminders.rules import RuleDefinitionError

    common, reminding = _reminding()

    async def once(pool: Any) -> str:
        outcome = await evaluate(pool, reminding, datetime.now(UTC))
        sent = await deliver_due(pool, reminding, datetime.now(UTC))
        return (
            f"{outcome.issued} issued, {outcome.followed_up} followed up, "
            f"{outcome.resolved} resolved, {outcome.escalated} escalated; {sent} delivered"
        )

    try:
        print(asyncio.run(_with_pool(common, once)))
    except RuleDefinitionError as error:  # a reminder open under a rule now unknown
        raise CommandError(str(error)) from error

"""``ioc reminders``: the register from the operator's terminal. ``list``; ``issue`` a reminder
by hand (a cause no rule describes: it is resolved by hand too); ``resolve`` one, saying how;
``evaluate`` once and deliver what is due (the API processes do both on their own schedule)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from services.common.command_errors import CommandError, using_store
from services.common.settings import CommonSettings

if TYPE_CHECKING:  # imported when a command runs: the worker's process loads none of this
    from services.api.reminders.evaluator import Reminding


def add_commands(commands: Any) -> None:
    reminders = commands.add_parser("reminders", help="the register of reminders to units")
    actions = reminders.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="newest first, with status and cause")
    listing.add_argument("--unit")
    listing.add_argument(
        "--status", choices=["open", "acknowledged", "escalated", "resolved", "unresolved"]
    )
    listing.set_defaults(run=_list)
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
    from services.api.reminders.settings import ReminderSettings
    from services.common.feeds import load_feeds

    common = CommonSettings.from_env()
    feeds = load_feeds(common.schemas_dir)
    return common, Reminding.load(common.schemas_dir, feeds, ReminderSettings.from_env())


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

    rows = asyncio.run(_with_pool(common, fetch))
    print(f"{'id':>5}  {'status':<12} {'unit':<8} {'issued (UTC)':<16}  cause")
    for row in rows:
        issued = row["issued_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        print(f"{row['id']:>5}  {row['status']:<12} {row['unit']:<8} {issued:<16}  {row['cause']}")
    print(f"{len(rows)} reminders")


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

    common, reminding = _reminding()

    async def once(pool: Any) -> str:
        outcome = await evaluate(pool, reminding, datetime.now(UTC))
        sent = await deliver_due(pool, reminding, datetime.now(UTC))
        return (
            f"{outcome.issued} issued, {outcome.resolved} resolved, "
            f"{outcome.escalated} escalated; {sent} delivered"
        )

    print(asyncio.run(_with_pool(common, once)))

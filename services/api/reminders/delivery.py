"""Delivering reminders: every due delivery sent through its channel; a failure is retried
after a delay that doubles each time (``retry_base_s``) until ``max_attempts``, then given up
loudly (an error log, the register, ``ioc_reminder_deliveries{status="failed"}`` and its
alert). A delivery whose reminder is resolved before it goes is cancelled, never sent late
(``repository.resolve``; one claimed as its reminder was resolved is cancelled here).

A delivery is claimed for a lease (``repository.claim_due``) and sent outside any transaction,
so a slow relay holds no lock the evaluation needs; another process sending at the same moment
takes the others, so none goes twice, and one that dies mid-send leaves its claims due again
when the lease ends. Each outcome is recorded on its own: one delivery that fails in any way is
a failed attempt of that delivery, never the end of the others."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from services.api.metrics import REMINDER_DELIVERIES, REMINDERS_UNDELIVERED
from services.api.reminders import repository
from services.api.reminders.channels import CHANNELS, DeliveryError, Outgoing, reached
from services.api.reminders.evaluator import Reminding
from services.api.reminders.notice import Notice
from services.api.reminders.schemas import ReminderOut
from services.api.reminders.status import UNRESOLVED
from services.common.db import DATABASE_UNAVAILABLE
from services.common.logs import redact

log = logging.getLogger("ioc.reminders")

SEND_TIMEOUT_S = 60.0  # one attempt at most; a hang is a failed attempt, not a stuck loop
# A claim's deliveries go one after another: the lease outlasts them all, so no other process
# claims one again while this one may still send it.
CLAIMED_AT_ONCE = 4
LEASE = timedelta(seconds=(CLAIMED_AT_ONCE + 1) * SEND_TIMEOUT_S)


def retry_at(attempts: int, now: datetime, base_s: float, max_attempts: int) -> datetime | None:
    """When to try again after ``attempts`` failed ones; None: give up."""
    if attempts >= max_attempts:
        return None
    return now + timedelta(seconds=base_s * 2 ** (attempts - 1))


async def deliver_due(pool: Any, reminding: Reminding, now: datetime) -> int:
    """Sends what is due now, a few claimed at a time; returns how many were delivered."""
    started, sent = time.monotonic(), 0
    while True:
        # Each claim's lease runs from when it is made: ``now`` moved on by the time sent so far.
        at = now + timedelta(seconds=time.monotonic() - started)
        async with pool.acquire() as connection:
            claimed = await repository.claim_due(connection, at, LEASE, CLAIMED_AT_ONCE)
        if not claimed:
            break
        sent += await _send_claimed(pool, reminding, claimed, at)
    async with pool.acquire() as connection:
        counts = await repository.delivery_counts(connection)
    _publish(counts)
    return sent


async def _send_claimed(
    pool: Any, reminding: Reminding, claimed: list[repository.DueDelivery], now: datetime
) -> int:
    sent = 0
    for due in claimed:
        async with pool.acquire() as connection:
            row = await repository.reminder(connection, due.reminder_id)
        assert row is not None  # a delivery's reminder is never deleted (foreign key)
        if row["status"] not in UNRESOLVED:  # resolved since it was claimed: not sent after all
            async with pool.acquire() as connection:
                await repository.cancel(connection, due)
            continue
        error = await _attempt(reminding, due, row, now)
        async with pool.acquire() as connection, connection.transaction():
            if error is None:
                await repository.delivered(connection, due, now)
                sent += 1
            else:
                await _failed(connection, reminding, due, error, now)
    return sent


async def _attempt(
    reminding: Reminding, due: repository.DueDelivery, row: dict[str, Any], now: datetime
) -> str | None:
    """Sends one delivery of the reminder ``row``; None when it went, else why not."""
    channel = CHANNELS.get(due.channel)
    if channel is None:
        return f"no channel {due.channel!r} any more"
    # The receiver is shown its own delivery's target and error, no other's (an escalated
    # reminder goes to two units; access.delivery_targets_shown).
    outgoing = Outgoing(
        id=due.id,
        reminder=ReminderOut.of(row, {(due.channel, due.target)}).model_dump(mode="json"),
        occasion=due.occasion,
        follow_up=due.follow_up,
        target=due.target,
        unit=reached(reminding.units, due.channel, due.target),
        at=now,
        notice=Notice.of(row, reminding.units, reminding.settings.issuing_body, due.follow_up),
    )
    try:
        async with asyncio.timeout(SEND_TIMEOUT_S):
            await channel.send(outgoing, reminding.settings)
    except DeliveryError as error:
        return str(error)
    except TimeoutError:
        return f"no answer within {SEND_TIMEOUT_S:.0f} s"
    except Exception as error:  # noqa: BLE001 - a channel's bug fails its delivery, loudly
        # (a malformed target, a library's unexpected error): recorded as this delivery's
        # failed attempt, with its traceback in the log, and the other deliveries still go.
        log.error(
            "reminder %s: %s channel failed unexpectedly",
            due.reminder_id,
            due.channel,
            exc_info=error,
        )
        return f"{error.__class__.__name__}: {error}"
    return None


async def _failed(
    connection: Any,
    reminding: Reminding,
    due: repository.DueDelivery,
    error: str,
    now: datetime,
) -> None:
    settings = reminding.settings
    attempts = due.attempts + 1
    again = retry_at(attempts, now, settings.retry_base_s, settings.max_attempts)
    # Kept in the register and logged: a URL's password or query (a webhook's token) in neither.
    reason, target = redact(error), redact(due.target)
    await repository.failed_attempt(connection, due, reason, again, now)
    if again is None:
        log.error(
            "reminder %s: %s delivery to %s given up after %d attempts: %s",
            due.reminder_id,
            due.channel,
            target,
            attempts,
            reason,
        )
    else:
        log.warning(
            "reminder %s: %s delivery to %s failed (attempt %d, again at %s): %s",
            due.reminder_id,
            due.channel,
            target,
            attempts,
            again.isoformat(),
            reason,
        )


def _publish(counts: list[tuple[str, str, int, int]]) -> None:
    """Every channel and status, at zero where there is none (set, never removed: see
    evaluator._publish)."""
    for channel in CHANNELS:
        REMINDERS_UNDELIVERED.labels(channel=channel).set(0)
        for status in ("pending", "delivered", "failed", "cancelled"):
            REMINDER_DELIVERIES.labels(channel=channel, status=status).set(0)
    for channel, status, count, stranded in counts:
        REMINDER_DELIVERIES.labels(channel=channel, status=status).set(count)
        if status == "failed":
            REMINDERS_UNDELIVERED.labels(channel=channel).set(stranded)


async def keep_delivering(pool: Any, reminding: Reminding, clock: Callable[[], datetime]) -> None:
    while True:
        try:
            await deliver_due(pool, reminding, clock())
        except DATABASE_UNAVAILABLE as error:
            log.warning("reminders not delivered: database unavailable (%r)", error)
        await asyncio.sleep(reminding.settings.deliver_every_s)

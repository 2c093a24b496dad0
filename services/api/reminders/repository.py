"""All SQL of the reminders: the register's changes, each change with its event (who, when,
what), and the deliveries'."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.api.reminders.status import (
    ISSUED,
    UNRESOLVED,
    ListedStatus,
    ReminderStatus,
    before,
    listed,
)

# One evaluation at a time across every process (pg_advisory_xact_lock's key: "ioc-remind").
EVALUATION_LOCK = 0x696F_632D_7265_6D
# The unique index's own predicate (reminders_one_open_per_cause): one unresolved reminder per
# unit and cause. An ON CONFLICT names it as written, so it is spelled out, from the machine.
UNRESOLVED_ONLY = f"status <> '{ReminderStatus.RESOLVED}'"
STILL_UNRESOLVED = sorted(UNRESOLVED)  # a parameter: status = ANY($n::text[])


@dataclass(frozen=True, slots=True)
class OpenReminder:
    id: int
    unit: str
    cause: str
    rule: str
    status: ReminderStatus
    issued_at: datetime
    told: list[dict[str, Any]]  # the figures of its notices: the issued one, then each follow-up


async def open_reminders(connection: Any) -> list[OpenReminder]:
    rows = await connection.fetch(
        "SELECT r.id, r.unit, r.cause, r.rule, r.status, r.issued_at,"
        " r.figures || coalesce((SELECT jsonb_agg(f.figures ORDER BY f.follow_up)"
        "   FROM reminder_follow_ups f WHERE f.reminder_id = r.id), '[]') AS told"
        " FROM (SELECT * FROM reminders WHERE status = ANY($1::text[]) ORDER BY id FOR UPDATE) r"
        " ORDER BY r.id",
        STILL_UNRESOLVED,
    )
    return [
        OpenReminder(
            **{**dict(row), "status": ReminderStatus(row["status"]), "told": list(row["told"])}
        )
        for row in rows
    ]


async def follow_up(
    connection: Any,
    reminder: int,
    *,
    figures: Mapping[str, Any],
    respond_by: datetime,
    now: datetime,
    actor: str,
) -> int:
    """A follow-up of an open reminder, numbered after its last: what joined its cause since.
    The issued notice is left as it was issued."""
    number: int = await connection.fetchval(
        "INSERT INTO reminder_follow_ups (reminder_id, follow_up, at, respond_by, figures)"
        " SELECT $1, coalesce(max(follow_up), 0) + 1, $2, $3, $4 FROM reminder_follow_ups"
        " WHERE reminder_id = $1 RETURNING follow_up",
        reminder,
        now,
        respond_by,
        dict(figures),
    )
    await record(connection, reminder, "followed_up", actor, now, {"follow_up": number})
    return number


async def unresolved_by_rule(connection: Any) -> dict[str, list[int]]:
    """The reminders not yet resolved, by rule: which rules the register still needs."""
    rows = await connection.fetch(
        "SELECT rule, array_agg(id ORDER BY id) AS ids FROM reminders"
        " WHERE status = ANY($1::text[]) GROUP BY rule ORDER BY rule",
        STILL_UNRESOLVED,
    )
    return {row["rule"]: list(row["ids"]) for row in rows}


@dataclass(frozen=True, slots=True)
class HeldResolution:
    id: int
    unit: str
    cause: str


async def resolutions_held(connection: Any) -> list[HeldResolution]:
    """Resolved reminders whose cause the evaluator has not seen clear since: resolved by hand
    while it held. Each stands until its cause clears (``causes_cleared``)."""
    rows = await connection.fetch(
        "SELECT id, unit, cause FROM reminders"
        " WHERE status = $1 AND cause_cleared_at IS NULL ORDER BY id",
        ReminderStatus.RESOLVED,
    )
    return [HeldResolution(**dict(row)) for row in rows]


async def causes_cleared(connection: Any, reminders: Sequence[int], now: datetime) -> None:
    """The causes of these resolved reminders no longer hold: a new reminder may follow when
    they come back."""
    await connection.execute(
        "UPDATE reminders SET cause_cleared_at = $2 WHERE id = ANY($1::bigint[])",
        list(reminders),
        now,
    )


async def issue(
    connection: Any,
    *,
    unit: str,
    cause: str,
    rule: str,
    figures: Mapping[str, Any],
    respond_by: datetime,
    now: datetime,
    actor: str,
) -> int | None:
    """A new open reminder, or None where one for this unit and cause is open already."""
    reminder: int | None = await connection.fetchval(
        "INSERT INTO reminders"  # noqa: S608 - the predicate is the machine's own
        " (unit, cause, rule, status, figures, respond_by, issued_at, updated_at)"
        " VALUES ($1, $2, $3, $7, $4, $5, $6, $6)"
        f" ON CONFLICT (unit, cause) WHERE {UNRESOLVED_ONLY} DO NOTHING RETURNING id",
        unit,
        cause,
        rule,
        dict(figures),
        respond_by,
        now,
        ISSUED,
    )
    if reminder is not None:
        await record(connection, reminder, "issued", actor, now, {"cause": cause})
    return reminder


async def record(
    connection: Any,
    reminder: int,
    event: str,
    actor: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> None:
    await connection.execute(
        "INSERT INTO reminder_events (reminder_id, at, event, actor, detail)"
        " VALUES ($1, $2, $3, $4, $5)",
        reminder,
        at,
        event,
        actor,
        dict(detail or {}),
    )


async def resolve(connection: Any, reminder: int, how: str, actor: str, now: datetime) -> bool:
    """Resolved, saying how; its deliveries not yet sent are cancelled (a notice of a cause
    that no longer holds, or that an operator closed, is not sent after the fact)."""
    done = await connection.execute(
        "UPDATE reminders SET status = $4, resolved_at = $2, resolution = $3,"
        " updated_at = $2 WHERE id = $1 AND status = ANY($5::text[])",
        reminder,
        now,
        how,
        ReminderStatus.RESOLVED,
        before(ReminderStatus.RESOLVED),
    )
    if done != "UPDATE 1":
        return False
    cancelled = await connection.fetchval(
        "WITH cancelled AS (UPDATE reminder_deliveries SET status = 'cancelled'"
        " WHERE reminder_id = $1 AND status = 'pending' RETURNING 1)"
        " SELECT count(*) FROM cancelled",
        reminder,
    )
    detail: dict[str, Any] = {"how": how}
    if cancelled:
        detail["deliveries_cancelled"] = cancelled
    await record(connection, reminder, "resolved", actor, now, detail)
    return True


async def escalate(connection: Any, reminder: int, to: str, actor: str, now: datetime) -> bool:
    """Escalated to the unit ``to``; False where its status may not become escalated."""
    done = await connection.execute(
        "UPDATE reminders SET status = $4, escalated_at = $2, escalated_to = $3,"
        " updated_at = $2 WHERE id = $1 AND status = ANY($5::text[])",
        reminder,
        now,
        to,
        ReminderStatus.ESCALATED,
        before(ReminderStatus.ESCALATED),
    )
    if done != "UPDATE 1":
        return False
    await record(connection, reminder, "escalated", actor, now, {"to": to})
    return True


async def acknowledge(connection: Any, reminder: int, unit: str, actor: str, now: datetime) -> bool:
    """The unit's own open reminder acknowledged; False where it is not the unit's or is over."""
    done = await connection.execute(
        "UPDATE reminders SET status = $5, acknowledged_at = $3,"
        " acknowledged_by = $4, updated_at = $3"
        " WHERE id = $1 AND unit = $2 AND status = ANY($6::text[])",
        reminder,
        unit,
        now,
        actor,
        ReminderStatus.ACKNOWLEDGED,
        before(ReminderStatus.ACKNOWLEDGED),
    )
    if done != "UPDATE 1":
        return False
    await record(connection, reminder, "acknowledged", actor, now)
    return True


async def add_deliveries(
    connection: Any,
    reminder: int,
    occasion: str,
    targets: Iterable[tuple[str, str]],  # (channel, target)
    now: datetime,
    follow_up: int = 0,  # the follow-up whose notice it carries (0: the reminder's own)
) -> None:
    await connection.executemany(
        "INSERT INTO reminder_deliveries (id, reminder_id, occasion, follow_up, channel, target,"
        " status, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)"
        " ON CONFLICT DO NOTHING",
        [
            (uuid.uuid4(), reminder, occasion, follow_up, channel, target, now)
            for channel, target in targets
        ],
    )


REMINDER = """
SELECT r.*, coalesce((SELECT jsonb_agg(jsonb_build_object('at', e.at, 'event', e.event,
            'actor', e.actor, 'detail', e.detail) ORDER BY e.id)
        FROM reminder_events e WHERE e.reminder_id = r.id), '[]') AS events,
    coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'occasion', d.occasion,
            'follow_up', d.follow_up, 'channel', d.channel, 'target', d.target,
            'status', d.status, 'attempts', d.attempts, 'last_error', d.last_error,
            'delivered_at', d.delivered_at) ORDER BY d.follow_up, d.occasion, d.channel, d.target)
        FROM reminder_deliveries d WHERE d.reminder_id = r.id), '[]') AS deliveries,
    coalesce((SELECT jsonb_agg(jsonb_build_object('follow_up', f.follow_up, 'at', f.at,
            'respond_by', f.respond_by, 'figures', f.figures) ORDER BY f.follow_up)
        FROM reminder_follow_ups f WHERE f.reminder_id = r.id), '[]') AS follow_ups
FROM reminders r
"""


# The reminders the units of the query's $2 may see (NULL: every unit): those addressed to them
# and those escalated to them (access.visible_units).
VISIBLE_TO = "($2::text[] IS NULL OR r.unit = ANY($2) OR r.escalated_to = ANY($2))"


async def reminder(
    connection: Any, reminder_id: int, units: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """One reminder, where ``units`` may see it (None: every unit)."""
    row = await connection.fetchrow(
        REMINDER + " WHERE r.id = $1 AND " + VISIBLE_TO,
        reminder_id,
        list(units) if units is not None else None,
    )
    return dict(row) if row else None


async def reminders(
    connection: Any,
    *,
    unit: str | None = None,
    units: Sequence[str] | None = None,
    status: ListedStatus | None = None,
    rule: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first; ``units`` limits to those a caller may see (None: every unit)."""
    if any("\x00" in text for text in (unit or "", rule or "")):
        return []  # PostgreSQL text cannot hold NUL (nor refuse it politely): nothing matches
    rows = await connection.fetch(
        REMINDER
        + f"""
        WHERE ($1::text IS NULL OR r.unit = $1)
          AND {VISIBLE_TO}
          AND ($3::text[] IS NULL OR r.status = ANY($3))
          AND ($4::text IS NULL OR r.rule = $4)
        ORDER BY r.id DESC LIMIT $5
        """,
        unit,
        list(units) if units is not None else None,
        listed(status) if status is not None else None,
        rule,
        limit,
    )
    return [dict(row) for row in rows]


@dataclass(frozen=True, slots=True)
class DueDelivery:
    id: uuid.UUID
    reminder_id: int
    occasion: str
    follow_up: int
    channel: str
    target: str
    attempts: int


async def claim_due(
    connection: Any, now: datetime, lease: timedelta, limit: int = 20
) -> list[DueDelivery]:
    """Deliveries due now, claimed for ``lease``: their next attempt moves past it in the same
    statement, so another process skips them while this one sends, no lock is held meanwhile,
    and a process that dies mid-send leaves them due again when the lease ends."""
    rows = await connection.fetch(
        "UPDATE reminder_deliveries SET next_attempt_at = $3 WHERE id IN ("
        " SELECT id FROM reminder_deliveries WHERE status = 'pending' AND next_attempt_at <= $1"
        " ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, reminder_id, occasion, follow_up, channel, target, attempts",
        now,
        limit,
        now + lease,
    )
    return [DueDelivery(**dict(row)) for row in rows]


async def delivered(connection: Any, delivery: DueDelivery, now: datetime) -> None:
    await connection.execute(
        "UPDATE reminder_deliveries SET status = 'delivered', attempts = attempts + 1,"
        " delivered_at = $2, last_error = NULL WHERE id = $1",
        delivery.id,
        now,
    )
    await record(
        connection,
        delivery.reminder_id,
        "delivered",
        "ioc",
        now,
        {
            "channel": delivery.channel,
            "target": delivery.target,
            "occasion": delivery.occasion,
            **({"follow_up": delivery.follow_up} if delivery.follow_up else {}),
        },
    )


async def cancel(connection: Any, delivery: DueDelivery) -> None:
    """A delivery claimed as its reminder was being resolved: not sent after all."""
    await connection.execute(
        "UPDATE reminder_deliveries SET status = 'cancelled' WHERE id = $1 AND status = 'pending'",
        delivery.id,
    )


async def failed_attempt(
    connection: Any, delivery: DueDelivery, error: str, retry_at: datetime | None, now: datetime
) -> None:
    """An attempt that failed: tried again at ``retry_at``, or given up (None) for good. One
    cancelled meanwhile (its reminder resolved) stays cancelled."""
    done = await connection.execute(
        "UPDATE reminder_deliveries SET attempts = attempts + 1, last_error = $2,"
        " status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,"
        " next_attempt_at = coalesce($3, next_attempt_at) WHERE id = $1 AND status = 'pending'",
        delivery.id,
        error,
        retry_at,
    )
    if done == "UPDATE 1" and retry_at is None:
        await record(
            connection,
            delivery.reminder_id,
            "delivery_failed",
            "ioc",
            now,
            {"channel": delivery.channel, "target": delivery.target, "error": error},
        )


async def delivery_counts(connection: Any) -> list[tuple[str, str, int, int]]:
    """(channel, status, count, of which given up on a reminder still unresolved): metrics."""
    rows = await connection.fetch(
        "SELECT d.channel, d.status, count(*) AS n, count(*) FILTER"
        " (WHERE d.status = 'failed' AND r.status = ANY($1::text[])) AS stranded"
        " FROM reminder_deliveries d JOIN reminders r ON r.id = d.reminder_id"
        " GROUP BY d.channel, d.status",
        STILL_UNRESOLVED,
    )
    return [(r["channel"], r["status"], r["n"], r["stranded"]) for r in rows]


async def open_counts(connection: Any) -> list[tuple[str, str, int]]:
    """(rule, unit, count) of the reminders not yet resolved: the metrics and the wall."""
    rows = await connection.fetch(
        "SELECT rule, unit, count(*) AS n FROM reminders WHERE status = ANY($1::text[])"
        " GROUP BY rule, unit ORDER BY rule, unit",
        STILL_UNRESOLVED,
    )
    return [(r["rule"], r["unit"], r["n"]) for r in rows]


DELIVERY = """
SELECT d.id::text AS id, d.reminder_id, d.occasion, d.follow_up, d.channel, d.target, d.status,
    d.attempts, d.last_error, d.delivered_at, d.next_attempt_at, r.unit, r.rule,
    r.status AS reminder_status
FROM reminder_deliveries d JOIN reminders r ON r.id = d.reminder_id
"""


async def deliveries(connection: Any, status: str, limit: int = 100) -> list[dict[str, Any]]:
    """Deliveries in ``status`` with their reminder's unit, rule and status, newest reminder
    first: the console's list of those that failed."""
    rows = await connection.fetch(
        DELIVERY + " WHERE d.status = $1 ORDER BY d.reminder_id DESC, d.channel, d.target LIMIT $2",
        status,
        limit,
    )
    return [dict(row) for row in rows]


async def delivery(connection: Any, delivery_id: uuid.UUID) -> dict[str, Any] | None:
    row = await connection.fetchrow(DELIVERY + " WHERE d.id = $1", delivery_id)
    return dict(row) if row else None


async def retry(connection: Any, delivery_id: uuid.UUID, actor: str, now: datetime) -> bool:
    """A failed delivery of a reminder still unresolved made due ``now``: one more attempt
    (and, while under the channel's limit, its retries); False where it is not such a one."""
    row = await connection.fetchrow(
        "UPDATE reminder_deliveries d SET status = 'pending', next_attempt_at = $2"
        " FROM reminders r WHERE d.id = $1 AND d.status = 'failed'"
        " AND r.id = d.reminder_id AND r.status = ANY($3::text[])"
        " RETURNING d.reminder_id, d.channel, d.target, d.occasion, d.attempts",
        delivery_id,
        now,
        STILL_UNRESOLVED,
    )
    if row is None:
        return False
    detail = {k: row[k] for k in ("channel", "target", "occasion", "attempts")}
    await record(connection, row["reminder_id"], "delivery_retried", actor, now, detail)
    return True

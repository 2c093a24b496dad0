"""All SQL of units and reminders: what an evaluation reads, the scorecards it keeps, and the
register's changes, each change with its event (who, when, what)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.api.reminders.scorecards import DayScores
from services.common.feeds import FeedDefinition

# One evaluation at a time across every process (pg_advisory_xact_lock's key: "ioc-remind").
EVALUATION_LOCK = 0x696F_632D_7265_6D
SCORE_COLUMNS = tuple(DayScores.__dataclass_fields__)


async def newest_by_entity(
    connection: Any, feeds: Mapping[str, FeedDefinition]
) -> dict[str, dict[str, datetime]]:
    """Each entity's newest event time, for the feeds whose entities report for themselves."""
    names = [name for name, feed in feeds.items() if feed.reported_by == "entity"]
    rows = await connection.fetch(
        "SELECT feed, entity, max(ts) AS newest FROM latest WHERE feed = ANY($1::text[])"
        " GROUP BY feed, entity",
        names,
    )
    newest: dict[str, dict[str, datetime]] = {name: {} for name in names}
    for row in rows:
        newest[row["feed"]][row["entity"]] = row["newest"]
    return newest


async def store_scores(connection: Any, day: date, scores: Mapping[str, DayScores]) -> None:
    columns = ", ".join(SCORE_COLUMNS)
    values = ", ".join(f"${n}" for n in range(3, len(SCORE_COLUMNS) + 3))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in SCORE_COLUMNS)
    await connection.executemany(
        f"INSERT INTO unit_scores (unit, day, {columns}) VALUES ($1, $2, {values})"  # noqa: S608 - names are the dataclass's own
        f" ON CONFLICT (unit, day) DO UPDATE SET {updates}, updated_at = now()",
        [(unit, day, *(getattr(s, c) for c in SCORE_COLUMNS)) for unit, s in scores.items()],
    )


async def score_history(
    connection: Any, since: date, unit: str | None = None
) -> dict[str, dict[date, dict[str, Any]]]:
    rows = await connection.fetch(
        "SELECT * FROM unit_scores WHERE day >= $1 AND ($2::text IS NULL OR unit = $2)"
        " ORDER BY unit, day",
        since,
        unit,
    )
    history: dict[str, dict[date, dict[str, Any]]] = {}
    for row in rows:
        history.setdefault(row["unit"], {})[row["day"]] = {c: row[c] for c in SCORE_COLUMNS}
    return history


@dataclass(frozen=True, slots=True)
class OpenReminder:
    id: int
    unit: str
    cause: str
    rule: str
    status: str
    issued_at: datetime


async def open_reminders(connection: Any) -> list[OpenReminder]:
    rows = await connection.fetch(
        "SELECT id, unit, cause, rule, status, issued_at FROM reminders"
        " WHERE status <> 'resolved' ORDER BY id FOR UPDATE"
    )
    return [OpenReminder(**dict(row)) for row in rows]


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
        """
        INSERT INTO reminders
            (unit, cause, rule, status, figures, respond_by, issued_at, updated_at)
        VALUES ($1, $2, $3, 'open', $4, $5, $6, $6)
        ON CONFLICT (unit, cause) WHERE status <> 'resolved' DO NOTHING
        RETURNING id
        """,
        unit,
        cause,
        rule,
        dict(figures),
        respond_by,
        now,
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
    done = await connection.execute(
        "UPDATE reminders SET status = 'resolved', resolved_at = $2, resolution = $3,"
        " updated_at = $2 WHERE id = $1 AND status <> 'resolved'",
        reminder,
        now,
        how,
    )
    if done != "UPDATE 1":
        return False
    await record(connection, reminder, "resolved", actor, now, {"how": how})
    return True


async def escalate(connection: Any, reminder: int, to: str, actor: str, now: datetime) -> None:
    await connection.execute(
        "UPDATE reminders SET status = 'escalated', escalated_at = $2, escalated_to = $3,"
        " updated_at = $2 WHERE id = $1",
        reminder,
        now,
        to,
    )
    await record(connection, reminder, "escalated", actor, now, {"to": to})


async def acknowledge(connection: Any, reminder: int, unit: str, actor: str, now: datetime) -> bool:
    """The unit's own open reminder acknowledged; False where it is not the unit's or is over."""
    done = await connection.execute(
        "UPDATE reminders SET status = 'acknowledged', acknowledged_at = $3,"
        " acknowledged_by = $4, updated_at = $3"
        " WHERE id = $1 AND unit = $2 AND status IN ('open', 'escalated')",
        reminder,
        unit,
        now,
        actor,
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
) -> None:
    await connection.executemany(
        "INSERT INTO reminder_deliveries (id, reminder_id, occasion, channel, target, status,"
        " next_attempt_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6) ON CONFLICT DO NOTHING",
        [(uuid.uuid4(), reminder, occasion, channel, target, now) for channel, target in targets],
    )


REMINDER = """
SELECT r.*, coalesce((SELECT jsonb_agg(jsonb_build_object('at', e.at, 'event', e.event,
            'actor', e.actor, 'detail', e.detail) ORDER BY e.id)
        FROM reminder_events e WHERE e.reminder_id = r.id), '[]') AS events,
    coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'occasion', d.occasion,
            'channel', d.channel, 'target', d.target, 'status', d.status,
            'attempts', d.attempts, 'last_error', d.last_error,
            'delivered_at', d.delivered_at) ORDER BY d.occasion, d.channel, d.target)
        FROM reminder_deliveries d WHERE d.reminder_id = r.id), '[]') AS deliveries
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
    status: str | None = None,
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
          AND ($3::text IS NULL OR r.status = $3 OR ($3 = 'unresolved' AND r.status <> 'resolved'))
          AND ($4::text IS NULL OR r.rule = $4)
        ORDER BY r.id DESC LIMIT $5
        """,
        unit,
        list(units) if units is not None else None,
        status,
        rule,
        limit,
    )
    return [dict(row) for row in rows]


@dataclass(frozen=True, slots=True)
class DueDelivery:
    id: uuid.UUID
    reminder_id: int
    occasion: str
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
        " RETURNING id, reminder_id, occasion, channel, target, attempts",
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
        {"channel": delivery.channel, "target": delivery.target, "occasion": delivery.occasion},
    )


async def failed_attempt(
    connection: Any, delivery: DueDelivery, error: str, retry_at: datetime | None, now: datetime
) -> None:
    """An attempt that failed: tried again at ``retry_at``, or given up (None) for good."""
    await connection.execute(
        "UPDATE reminder_deliveries SET attempts = attempts + 1, last_error = $2,"
        " status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,"
        " next_attempt_at = coalesce($3, next_attempt_at) WHERE id = $1",
        delivery.id,
        error,
        retry_at,
    )
    if retry_at is None:
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
        " (WHERE d.status = 'failed' AND r.status <> 'resolved') AS stranded"
        " FROM reminder_deliveries d JOIN reminders r ON r.id = d.reminder_id"
        " GROUP BY d.channel, d.status"
    )
    return [(r["channel"], r["status"], r["n"], r["stranded"]) for r in rows]


async def open_counts(connection: Any) -> list[tuple[str, str, int]]:
    """(rule, unit, count) of the reminders not yet resolved: the metrics and the wall."""
    rows = await connection.fetch(
        "SELECT rule, unit, count(*) AS n FROM reminders WHERE status <> 'resolved'"
        " GROUP BY rule, unit ORDER BY rule, unit"
    )
    return [(r["rule"], r["unit"], r["n"]) for r in rows]


DELIVERY = """
SELECT d.id::text AS id, d.reminder_id, d.occasion, d.channel, d.target, d.status, d.attempts,
    d.last_error, d.delivered_at, d.next_attempt_at, r.unit, r.rule, r.status AS reminder_status
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
        " AND r.id = d.reminder_id AND r.status <> 'resolved'"
        " RETURNING d.reminder_id, d.channel, d.target, d.occasion, d.attempts",
        delivery_id,
        now,
    )
    if row is None:
        return False
    detail = {k: row[k] for k in ("channel", "target", "occasion", "attempts")}
    await record(connection, row["reminder_id"], "delivery_retried", actor, now, detail)
    return True

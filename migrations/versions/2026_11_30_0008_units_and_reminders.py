"""Units' daily scorecards and the register of reminders: each reminder with its life
(``reminder_events``: who did what, when) and its deliveries by e-mail and webhook, retried
until delivered or given up. One open reminder per unit and cause, whatever the number of
processes evaluating: a unique index says so, not the code.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE TABLE unit_scores (
            unit text NOT NULL,
            day date NOT NULL,
            correct double precision,
            sufficient double precision,
            clean double precision,
            live double precision,
            timeliness double precision,
            quarantine_ratio double precision,
            tasks_assigned integer NOT NULL DEFAULT 0,
            tasks_done integer NOT NULL DEFAULT 0,
            tasks_overdue integer NOT NULL DEFAULT 0,
            tasks_due_soon integer NOT NULL DEFAULT 0,
            completion_rate double precision,
            score double precision,
            lagging jsonb NOT NULL DEFAULT '[]',
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (unit, day)
        )
    """)
    op.execute("""
        CREATE TABLE reminders (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            unit text NOT NULL,
            cause text NOT NULL,
            rule text NOT NULL,
            status text NOT NULL
                CHECK (status IN ('open', 'acknowledged', 'escalated', 'resolved')),
            figures jsonb NOT NULL,
            respond_by timestamptz NOT NULL,
            issued_at timestamptz NOT NULL,
            acknowledged_at timestamptz,
            acknowledged_by text,
            escalated_at timestamptz,
            escalated_to text,
            resolved_at timestamptz,
            resolution text,
            updated_at timestamptz NOT NULL
        )
    """)
    op.execute("""
        CREATE UNIQUE INDEX reminders_one_open_per_cause ON reminders (unit, cause)
        WHERE status <> 'resolved'
    """)
    op.execute("CREATE INDEX reminders_unit_issued ON reminders (unit, issued_at DESC)")
    op.execute("""
        CREATE TABLE reminder_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            reminder_id bigint NOT NULL REFERENCES reminders (id),
            at timestamptz NOT NULL,
            event text NOT NULL,
            actor text NOT NULL,
            detail jsonb NOT NULL DEFAULT '{}'
        )
    """)
    op.execute("CREATE INDEX reminder_events_reminder ON reminder_events (reminder_id, id)")
    op.execute("""
        CREATE TABLE reminder_deliveries (
            id uuid PRIMARY KEY,
            reminder_id bigint NOT NULL REFERENCES reminders (id),
            occasion text NOT NULL CHECK (occasion IN ('issued', 'escalated')),
            channel text NOT NULL,
            target text NOT NULL,
            status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL,
            last_error text,
            delivered_at timestamptz,
            UNIQUE (reminder_id, occasion, channel, target)
        )
    """)
    op.execute("""
        CREATE INDEX reminder_deliveries_due ON reminder_deliveries (next_attempt_at)
        WHERE status = 'pending'
    """)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TABLE reminder_deliveries, reminder_events, reminders, unit_scores")

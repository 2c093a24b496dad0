"""A reminder's cause followed after it is issued and after it is resolved; deliveries no longer
wanted.

``reminders.cause_cleared_at``: when the evaluator saw the cause of a resolved reminder no
longer hold. NULL on a resolved reminder means an operator resolved it while its cause held and
it has held since: the operator's resolution stands, no new reminder is issued for that unit and
cause until the cause clears and comes back. Reminders the evaluator resolved (their resolution
reads "cause cleared: ...") cleared when they were resolved.

``reminder_deliveries.status`` may be ``cancelled``: a delivery still pending when its reminder
was resolved is not sent (the unit would be told of a cause that no longer holds).

``reminder_follow_ups``: what joined an open reminder's cause after it was issued (a task newly
overdue), told to the unit in a numbered follow-up notice of its own; the issued notice never
changes. A follow-up's deliveries are ``reminder_deliveries`` of occasion ``follow_up`` with its
number in ``follow_up`` (0 for the reminder's own notice).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

DELIVERIES_UNIQUE = "reminder_deliveries_reminder_id_occasion_channel_target_key"
DELIVERIES_UNIQUE_NOW = "reminder_deliveries_reminder_id_occasion_follow_up_channel_target_key"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("ALTER TABLE reminders ADD COLUMN cause_cleared_at timestamptz")
    op.execute("""
        UPDATE reminders SET cause_cleared_at = resolved_at
        WHERE status = 'resolved' AND resolution LIKE 'cause cleared%'
    """)
    op.execute("""
        CREATE TABLE reminder_follow_ups (
            reminder_id bigint NOT NULL REFERENCES reminders (id),
            follow_up integer NOT NULL CHECK (follow_up > 0),
            at timestamptz NOT NULL,
            respond_by timestamptz NOT NULL,
            figures jsonb NOT NULL,
            PRIMARY KEY (reminder_id, follow_up)
        )
    """)
    op.execute("""
        ALTER TABLE reminder_deliveries
            ADD COLUMN follow_up integer NOT NULL DEFAULT 0,
            DROP CONSTRAINT reminder_deliveries_status_check,
            ADD CONSTRAINT reminder_deliveries_status_check
                CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
            DROP CONSTRAINT reminder_deliveries_occasion_check,
            ADD CONSTRAINT reminder_deliveries_occasion_check
                CHECK (occasion IN ('issued', 'escalated', 'follow_up'))
    """)
    op.execute(f"""
        ALTER TABLE reminder_deliveries
            DROP CONSTRAINT {DELIVERIES_UNIQUE},
            ADD CONSTRAINT {DELIVERIES_UNIQUE_NOW}
                UNIQUE (reminder_id, occasion, follow_up, channel, target)
    """)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DELETE FROM reminder_deliveries WHERE occasion = 'follow_up'")
    op.execute("UPDATE reminder_deliveries SET status = 'failed' WHERE status = 'cancelled'")
    op.execute(f"""
        ALTER TABLE reminder_deliveries
            DROP CONSTRAINT {DELIVERIES_UNIQUE_NOW},
            ADD CONSTRAINT {DELIVERIES_UNIQUE} UNIQUE (reminder_id, occasion, channel, target),
            DROP CONSTRAINT reminder_deliveries_occasion_check,
            ADD CONSTRAINT reminder_deliveries_occasion_check
                CHECK (occasion IN ('issued', 'escalated')),
            DROP CONSTRAINT reminder_deliveries_status_check,
            ADD CONSTRAINT reminder_deliveries_status_check
                CHECK (status IN ('pending', 'delivered', 'failed')),
            DROP COLUMN follow_up
    """)
    op.execute("DROP TABLE reminder_follow_ups")
    op.execute("ALTER TABLE reminders DROP COLUMN cause_cleared_at")

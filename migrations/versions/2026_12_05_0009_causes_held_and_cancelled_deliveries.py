"""A reminder's cause followed after its resolution, and deliveries that are no longer wanted.

``reminders.cause_cleared_at``: when the evaluator saw the cause of a resolved reminder no
longer hold. NULL on a resolved reminder means an operator resolved it while its cause held and
it has held since: the operator's resolution stands, no new reminder is issued for that unit and
cause until the cause clears and comes back. Reminders the evaluator resolved (their resolution
reads "cause cleared: ...") cleared when they were resolved.

``reminder_deliveries.status`` may be ``cancelled``: a delivery still pending when its reminder
was resolved is not sent (the unit would be told of a cause that no longer holds).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("ALTER TABLE reminders ADD COLUMN cause_cleared_at timestamptz")
    op.execute("""
        UPDATE reminders SET cause_cleared_at = resolved_at
        WHERE status = 'resolved' AND resolution LIKE 'cause cleared%'
    """)
    op.execute("ALTER TABLE reminder_deliveries DROP CONSTRAINT reminder_deliveries_status_check")
    op.execute("""
        ALTER TABLE reminder_deliveries ADD CONSTRAINT reminder_deliveries_status_check
        CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled'))
    """)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("UPDATE reminder_deliveries SET status = 'failed' WHERE status = 'cancelled'")
    op.execute("ALTER TABLE reminder_deliveries DROP CONSTRAINT reminder_deliveries_status_check")
    op.execute("""
        ALTER TABLE reminder_deliveries ADD CONSTRAINT reminder_deliveries_status_check
        CHECK (status IN ('pending', 'delivered', 'failed'))
    """)
    op.execute("ALTER TABLE reminders DROP COLUMN cause_cleared_at")

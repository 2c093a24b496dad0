"""A unit's day score covers the day, not its last evaluation: each evaluation's scores are
weighted by the time since the one before (``covered_s`` so far, ``evaluated_at`` the last), so
a feed down for 15 hours and live at the last evaluation no longer scores the day 1.0. Rows
kept before carry no coverage: their next evaluation replaces them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        ALTER TABLE unit_scores
            ADD COLUMN evaluated_at timestamptz,
            ADD COLUMN covered_s double precision NOT NULL DEFAULT 0
    """)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("ALTER TABLE unit_scores DROP COLUMN evaluated_at, DROP COLUMN covered_s")

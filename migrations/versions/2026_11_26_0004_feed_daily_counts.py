"""Per feed and day, what the worker received: records, quarantined, and repeated (re-sent for
an event time the store already held: duplicates and corrections). The quality scores read it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE TABLE feed_daily_counts (
            feed text NOT NULL,
            day date NOT NULL,
            records bigint NOT NULL DEFAULT 0,
            quarantined bigint NOT NULL DEFAULT 0,
            repeated bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (feed, day)
        )
    """)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TABLE feed_daily_counts")

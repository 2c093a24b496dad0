"""How far each partition's records are counted in ``feed_daily_counts``, so a batch written
again (a kill between the database and offset commits, a batch dropped at a rebalance) is not
counted twice. A store migrated with counts already made starts its marks at its next batch.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE TABLE feed_count_marks (
            topic text NOT NULL,
            partition integer NOT NULL,
            counted_until bigint NOT NULL,
            PRIMARY KEY (topic, partition)
        )
    """)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TABLE feed_count_marks")

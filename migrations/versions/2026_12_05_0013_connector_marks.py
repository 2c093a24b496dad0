"""Pull connectors' high-water marks: per connector, the newest value of the record field its
``since`` follows, saved only once Kafka acknowledged every record of the pull that reached it,
so a restart asks the department only for what came after.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE TABLE connector_marks (
            connector text PRIMARY KEY,
            mark jsonb NOT NULL,
            updated_at timestamptz NOT NULL
        )
    """)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TABLE connector_marks")

"""The units of ``schemas/units/`` mirrored in the store (code, kind, names), written by the API
at start: Grafana's panels and variables show a unit's name and rank it within its kind, as
/v1/units does, without a copy of the unit files of their own.

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
    op.execute("""
        CREATE TABLE units (
            code text PRIMARY KEY,
            kind text NOT NULL,
            name text NOT NULL,
            name_en text NOT NULL
        )
    """)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TABLE units")

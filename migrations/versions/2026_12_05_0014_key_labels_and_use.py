"""API keys an operator can tell apart: a label given at issue ("wall, meeting room 2"), the
key's first characters (not secret: a key holds 32 random bytes, the prefix a few of them), shown
in ``ioc keys list`` and in log lines, and when each key was last used, written by the API at
most once a minute per process (never a write per request). Keys issued before have no prefix
(only their hash was kept).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        ALTER TABLE api_keys
            ADD COLUMN label text CHECK (char_length(label) <= 200),
            ADD COLUMN prefix text,
            ADD COLUMN last_used_at timestamptz
    """)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        "ALTER TABLE api_keys DROP COLUMN label, DROP COLUMN prefix, DROP COLUMN last_used_at"
    )

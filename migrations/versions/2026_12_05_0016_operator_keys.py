"""Operator keys: the IOC's own staff run the reminder register from the console and see the
units' contacts and where each delivery went; a third kind of API key beside agencies' and
readers'.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("ALTER TABLE api_keys DROP CONSTRAINT api_keys_kind_check")
    op.execute(
        "ALTER TABLE api_keys ADD CONSTRAINT api_keys_kind_check"
        " CHECK (kind IN ('agency', 'reader', 'operator'))"
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DELETE FROM api_keys WHERE kind = 'operator'")
    op.execute("ALTER TABLE api_keys DROP CONSTRAINT api_keys_kind_check")
    op.execute(
        "ALTER TABLE api_keys ADD CONSTRAINT api_keys_kind_check"
        " CHECK (kind IN ('agency', 'reader'))"
    )

"""Idempotency keys of HTTP pushes: a retry gets the first answer and produces nothing twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE TABLE idempotency_keys (
            agency text NOT NULL,
            key text NOT NULL,
            request_hash text NOT NULL,
            response_status integer,
            response_body jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (agency, key)
        )
    """)
    op.execute("CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at)")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TABLE idempotency_keys")

"""Plain mode: the rollups' retention finds what is past it by an index on the bucket, instead of
reading every rollup row every hour.

``ioc_maintain`` (each worker at start and hourly) deletes the rollup rows past retention by
``bucket``, which no index led with: each call read all four rollup tables whole. Measured: 4.7
and 9.1 s for the two workers' calls on the ingest benchmark's store of 20M rows, and 1.9 s on
a scratch store of 10M rows in each per-entity rollup, against under 10 ms with these indexes
(bench/NOTES.md, eighteenth session). BRIN: a few pages of summaries, which rows written in
roughly time order suit, next to nothing for a batch to maintain, and no update a batch makes
changes a bucket. Built without CONCURRENTLY: a BRIN build reads the table once, and batches
wait for it rather than fail.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

ROLLUPS = ("observations_5m", "observations_1h", "observations_5m_all", "observations_1h_all")


def _plain() -> bool:
    mode = op.get_bind().execute(text("SELECT value FROM storage_info WHERE key = 'mode'"))
    return str(mode.scalar_one()) == "postgres"


def upgrade() -> None:
    if _plain():
        for table in ROLLUPS:
            op.execute(f"CREATE INDEX {table}_bucket ON {table} USING brin (bucket)")


def downgrade() -> None:
    if _plain():
        for table in ROLLUPS:
            op.execute(f"DROP INDEX {table}_bucket")

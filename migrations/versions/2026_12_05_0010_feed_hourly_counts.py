"""The feeds' counts by the hour, not by the UTC day: the quality report's last 24 hours are 24
hours (a UTC day's counts read "24 h" as 24 to 48), and a province day (Asia/Ho_Chi_Minh, a
whole-hour offset) is exactly its 24 hours. Counts kept by UTC day before this migration each
land at their day's UTC midnight: 07:00 in the province, inside the province day of the same
date, where most of that UTC day's hours were.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE TABLE feed_hourly_counts (
            feed text NOT NULL,
            hour timestamptz NOT NULL,
            records bigint NOT NULL DEFAULT 0,
            quarantined bigint NOT NULL DEFAULT 0,
            repeated bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (feed, hour)
        )
    """)
    op.execute("""
        INSERT INTO feed_hourly_counts (feed, hour, records, quarantined, repeated)
        SELECT feed, day::timestamp AT TIME ZONE 'UTC', records, quarantined, repeated
        FROM feed_daily_counts
    """)
    op.execute("DROP TABLE feed_daily_counts")


def downgrade() -> None:
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
    op.execute("""
        INSERT INTO feed_daily_counts (feed, day, records, quarantined, repeated)
        SELECT feed, (hour AT TIME ZONE 'UTC')::date, sum(records), sum(quarantined),
               sum(repeated)
        FROM feed_hourly_counts GROUP BY 1, 2
    """)
    op.execute("DROP TABLE feed_hourly_counts")

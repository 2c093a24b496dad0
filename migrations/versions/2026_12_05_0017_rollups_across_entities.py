"""Rollups across entities: each feed's metric per 5-minute and 1-hour bucket, every entity
summed, so a series reads one row a bucket instead of one a bucket and entity (a month of
200 cameras at 5 minutes: 8,640 rows, not 1.7 M).

TimescaleDB mode: hierarchical continuous aggregates over the per-entity ones, refreshed over
their whole range every minute, like those (0005); their policies are added after the
per-entity ones', so each run follows theirs. They answer only what is materialized: the series
sums the open tail past ``ioc_rollup_watermark`` from the rows itself, series by series through
the primary key (a real-time aggregate would reach it through the per-entity one, which scans
the newest chunk: 80 ms of a 30-day series' 100, measured). Plain mode: tables the worker keeps
exact in each batch's transaction (so their watermark is infinity), filled here from the
per-entity rollups, and dropped past retention by ``ioc_maintain``.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Each rollup across entities, over the per-entity rollup of the same width.
ACROSS = {
    "observations_5m_all": ("observations_5m", "5 minutes"),
    "observations_1h_all": ("observations_1h", "1 hour"),
}
REFRESH_EVERY = "1 minute"

# Where a rollup across entities stops holding its buckets: the series reads the rows from there.
WATERMARK_TIMESCALEDB = """
CREATE FUNCTION ioc_rollup_watermark(rollup text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT _timescaledb_functions.to_timestamp(
        _timescaledb_functions.cagg_watermark(mat_hypertable_id))
    FROM _timescaledb_catalog.continuous_agg WHERE user_view_name = rollup
$$
"""
WATERMARK_PLAIN = """
CREATE FUNCTION ioc_rollup_watermark(rollup text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT 'infinity'::timestamptz $$
"""

MAINTAIN = """
CREATE OR REPLACE FUNCTION ioc_maintain(at timestamptz, retention interval, ahead interval)
RETURNS text LANGUAGE plpgsql AS $$
-- Plain mode's policy job: partitions ahead of time, partitions and rollups past retention gone.
DECLARE
    partition record;
    dropped integer := 0;
    created integer;
BEGIN
    created := ioc_ensure_partitions((at - retention)::date, (at + ahead)::date);
    FOR partition IN
        SELECT child.relname AS name
        FROM pg_inherits
        JOIN pg_class child ON child.oid = pg_inherits.inhrelid
        JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
        WHERE parent.relname IN ('observations', 'states')
          AND to_date(right(child.relname, 7), 'YYYY_MM') + interval '1 month' <= at - retention
    LOOP
        EXECUTE format('DROP TABLE %I', partition.name);
        dropped := dropped + 1;
    END LOOP;
{deletes}
    RETURN format('%s partitions created, %s dropped', created, dropped);
END $$;
"""


def _maintain(rollups: list[str]) -> str:
    deletes = "\n".join(f"    DELETE FROM {r} WHERE bucket < at - retention;" for r in rollups)
    return MAINTAIN.replace("{deletes}", deletes)


def _setting(key: str) -> str:
    query = text("SELECT value FROM storage_info WHERE key = :key")
    value = op.get_bind().execute(query, {"key": key})
    return str(value.scalar_one())


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    if _setting("mode") == "timescaledb":
        _aggregates(int(_setting("retention_days")))
        op.execute(WATERMARK_TIMESCALEDB)
        return
    op.execute(WATERMARK_PLAIN)
    for name, (source, _) in ACROSS.items():
        op.execute(f"""
            CREATE TABLE {name} (
                feed text NOT NULL,
                metric text NOT NULL,
                bucket timestamptz NOT NULL,
                n integer NOT NULL,
                total double precision NOT NULL,
                minimum double precision NOT NULL,
                maximum double precision NOT NULL,
                PRIMARY KEY (feed, metric, bucket)
            )
        """)
        op.execute(f"""
            INSERT INTO {name} (feed, metric, bucket, n, total, minimum, maximum)
            SELECT feed, metric, bucket, sum(n), sum(total), min(minimum), max(maximum)
            FROM {source} GROUP BY feed, metric, bucket
        """)
    per_entity = [source for source, _ in ACROSS.values()]
    op.execute(_maintain([*per_entity, *ACROSS]))


def _aggregates(retention_days: int) -> None:
    # Continuous aggregates cannot be created inside a transaction.
    with op.get_context().autocommit_block():
        for name, (source, width) in ACROSS.items():
            op.execute(f"""
                CREATE MATERIALIZED VIEW {name}
                WITH (timescaledb.continuous, timescaledb.materialized_only = true,
                      timescaledb.create_group_indexes = false) AS
                SELECT feed, metric, time_bucket(INTERVAL '{width}', bucket) AS bucket,
                       sum(n)::integer AS n, sum(total) AS total,
                       min(minimum) AS minimum, max(maximum) AS maximum
                FROM {source}
                GROUP BY feed, metric, time_bucket(INTERVAL '{width}', bucket)
                WITH DATA
            """)
    for name in ACROSS:
        # What a series asks: one feed's metric over a range of buckets.
        op.execute(f"CREATE INDEX {name}_series ON {name} (feed, metric, bucket)")
        op.execute(
            f"SELECT add_continuous_aggregate_policy('{name}', start_offset => NULL, "
            f"end_offset => NULL, schedule_interval => INTERVAL '{REFRESH_EVERY}')"
        )
        op.execute(f"SELECT add_retention_policy('{name}', INTERVAL '{retention_days} days')")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP FUNCTION ioc_rollup_watermark(text)")
    if _setting("mode") == "timescaledb":
        for name in ACROSS:
            op.execute(f"SELECT remove_retention_policy('{name}')")
            op.execute(f"SELECT remove_continuous_aggregate_policy('{name}')")
        with op.get_context().autocommit_block():
            for name in reversed(ACROSS):
                op.execute(f"DROP MATERIALIZED VIEW {name}")
        return
    op.execute(_maintain([source for source, _ in ACROSS.values()]))
    for name in ACROSS:
        op.execute(f"DROP TABLE {name}")

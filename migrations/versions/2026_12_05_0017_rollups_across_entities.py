"""Rollups across entities: each feed's metric per 5-minute and 1-hour bucket, every entity
summed, so a series reads one row a bucket instead of one a bucket and entity (a month of
200 cameras at 5 minutes: 8,640 rows, not 1.7 M).

Both modes keep them materialized up to a watermark (``ioc_rollup_watermark``), by a periodic
job, never in the worker's batch (rows every worker would share: measured, half the plain
write's rate, and two workers waiting on each other). The series sums the open tail past the
watermark from the rows itself, series by series through the primary key.

TimescaleDB mode: hierarchical continuous aggregates over the per-entity ones, refreshed over
their whole range every minute, like those (0005), each job on its own schedule, so a late row
reaches them within about two refreshes (a real-time aggregate would reach the tail through the
per-entity one, which scans the newest chunk: 80 ms of a 30-day series' 100, measured).

Plain mode: tables filled by ``ioc_refresh_rollups_across`` (the worker runs it every minute)
from the per-entity rollups the worker keeps exact, up to the last closed bucket, and dropped
past retention by ``ioc_maintain``. Their watermarks are rows of ``rollup_watermarks``. A row
the worker writes below a watermark (a late row, a correction) appends its feed, metric and
5-minute bucket to ``rollup_invalidations`` in the batch's transaction (no key: nothing shared
to wait on); the series reads such a bucket from the rows, so it is exact at commit, and the
next refresh recomputes it and clears the invalidations. The write holds the watermarks where
they are (``ioc_hold_rollup_watermarks``, a shared advisory lock) until it commits, so a refresh
sees every row a write left uninvalidated. TimescaleDB mode's ``rollup_invalidations`` stays
empty (its own invalidation log drives its refresh): one series query reads both modes.

Plain mode, releasing it: stop every worker before this migration and start them after it
(docs/deploy.md). A worker of the release before takes no lock and notes no invalidation, so
rows it commits beside the first refresh would be missing from the sums across entities for
good.

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
# services.common.tables.BUCKET_ORIGIN_SQL, copied: a migration does not change with the code.
ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
# Buckets below a watermark that a late row or a correction changed (5-minute buckets; the hour
# holding one is stale too). Read by the series in both modes, written in plain mode only.
INVALIDATIONS = """
CREATE TABLE rollup_invalidations (
    feed text NOT NULL,
    metric text NOT NULL,
    bucket timestamptz NOT NULL
)
"""
INVALIDATIONS_INDEX = (
    "CREATE INDEX rollup_invalidations_series ON rollup_invalidations (feed, metric, bucket)"
)

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
LANGUAGE sql STABLE AS $$
    SELECT w.watermark FROM rollup_watermarks w WHERE w.rollup = $1
$$
"""

# Plain mode: the refresh takes this lock alone, each batch's write shared (one home: here).
WATERMARK_LOCK = 290017
HOLD = f"""
CREATE FUNCTION ioc_hold_rollup_watermarks() RETURNS void
LANGUAGE sql AS $$ SELECT pg_advisory_xact_lock_shared({WATERMARK_LOCK}) $$
"""

# Plain mode's refresh, per rollup: the buckets from the watermark to the last closed one at
# ``at``, a day at most a call, and the invalidated buckets before the watermark, summed from the
# per-entity rollup series by series (each series stored has a row in ``latest``, whose ``ts`` is
# its newest). A store's first refresh starts at its oldest bucket (one scan, once).
REFRESH_STEP = """
    SELECT watermark INTO was FROM rollup_watermarks WHERE rollup = '{table}';
    IF was = '-infinity' THEN
        was := coalesce((SELECT min(bucket) FROM {source}), date_bin('{width}', at, {origin}));
    END IF;
    closed := greatest(was, least(date_bin('{width}', at, {origin}), was + STEP));
    caught_up := caught_up AND closed = greatest(was, date_bin('{width}', at, {origin}));
    INSERT INTO {table} (feed, metric, bucket, n, total, minimum, maximum)
    SELECT p.feed, p.metric, p.bucket,
           sum(p.n)::integer, sum(p.total), min(p.minimum), max(p.maximum)
    FROM latest l
    CROSS JOIN LATERAL (
        SELECT * FROM {source} p
        WHERE p.feed = l.feed AND p.entity = l.entity AND p.metric = l.metric
          AND p.bucket >= was AND p.bucket < closed
    ) p
    WHERE l.ts >= was
    GROUP BY 1, 2, 3
    ON CONFLICT (feed, metric, bucket) DO UPDATE
    SET n = EXCLUDED.n, total = EXCLUDED.total, minimum = EXCLUDED.minimum,
        maximum = EXCLUDED.maximum;
    INSERT INTO {table} (feed, metric, bucket, n, total, minimum, maximum)
    SELECT s.feed, s.metric, s.bucket, agg.n, agg.total, agg.minimum, agg.maximum
    FROM (
        SELECT DISTINCT feed, metric, date_bin('{width}', bucket, {origin}) AS bucket
        FROM rollup_invalidations WHERE bucket < was
    ) s
    CROSS JOIN LATERAL (
        SELECT sum(p.n)::integer AS n, sum(p.total) AS total,
               min(p.minimum) AS minimum, max(p.maximum) AS maximum
        FROM latest l
        JOIN {source} p
          ON p.feed = l.feed AND p.entity = l.entity AND p.metric = l.metric
         AND p.bucket = s.bucket
        WHERE l.feed = s.feed AND l.metric = s.metric
    ) agg
    WHERE agg.n IS NOT NULL
    ON CONFLICT (feed, metric, bucket) DO UPDATE
    SET n = EXCLUDED.n, total = EXCLUDED.total, minimum = EXCLUDED.minimum,
        maximum = EXCLUDED.maximum;
    UPDATE rollup_watermarks SET watermark = closed WHERE rollup = '{table}';
"""
# True once every watermark is at the last closed bucket: a store far behind (its first refresh,
# a worker long down) is caught up by calling again, each call short, because the lock it holds
# stops every batch while it runs.
REFRESH = f"""
CREATE FUNCTION ioc_refresh_rollups_across(at timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
-- Plain mode's refresh of the rollups across entities (see migration 0017).
DECLARE
    STEP CONSTANT interval := '1 day';
    was timestamptz;
    closed timestamptz;
    caught_up boolean := true;
BEGIN
    -- Waits for the batches in flight; the next wait for this refresh's commit.
    PERFORM pg_advisory_xact_lock({WATERMARK_LOCK});
{{steps}}
    DELETE FROM rollup_invalidations;
    RETURN caught_up;
END $$;
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


def _refresh() -> str:
    steps = "".join(
        REFRESH_STEP.format(table=name, source=source, width=width, origin=ORIGIN)
        for name, (source, width) in ACROSS.items()
    )
    return REFRESH.replace("{steps}", steps)


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(INVALIDATIONS)
    op.execute(INVALIDATIONS_INDEX)
    if _setting("mode") == "timescaledb":
        _aggregates(int(_setting("retention_days")))
        op.execute(WATERMARK_TIMESCALEDB)
        return
    for name in ACROSS:
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
    # Nothing materialized yet: the worker's first refresh fills them (a fill here would miss
    # what a worker still running the previous code commits meanwhile).
    op.execute("""
        CREATE TABLE rollup_watermarks (
            rollup text PRIMARY KEY,
            watermark timestamptz NOT NULL
        )
    """)
    op.execute(
        "INSERT INTO rollup_watermarks VALUES "
        + ", ".join(f"('{name}', '-infinity')" for name in ACROSS)
    )
    op.execute(WATERMARK_PLAIN)
    op.execute(HOLD)
    op.execute(_refresh())
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
    else:
        op.execute(_maintain([source for source, _ in ACROSS.values()]))
        op.execute("DROP FUNCTION ioc_refresh_rollups_across(timestamptz)")
        op.execute("DROP FUNCTION ioc_hold_rollup_watermarks()")
        op.execute("DROP TABLE rollup_watermarks")
        for name in ACROSS:
            op.execute(f"DROP TABLE {name}")
    op.execute("DROP TABLE rollup_invalidations")

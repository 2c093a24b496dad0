"""Plain mode: a late row's sums travel with its invalidation, so the refresh adds them instead of
recomputing the bucket from every series of its metric.

Migration 0017's refresh recomputed each invalidated bucket across every series of the metric
(one index lookup a series and bucket): a backfill of 2,000 series over 200 buckets took 5.9 s
a call, measured, while the refresh's lock held every batch; at the ingest benchmark's scale a
call outlasted the workers' 60 s statement timeout and was cancelled, again and again, so the
invalidations were never cleared (bench/NOTES.md, seventeenth session). A new row only adds to
its bucket, so the batch now writes, beside the bucket it invalidates, the count, sum, minimum
and maximum of its rows there, and the refresh adds those to the bucket across entities (exact,
as the per-entity rollups' own additions are). A changed row (a correction) cannot be taken out
of a minimum or maximum: its invalidation carries no sums and its bucket, the hour holding it
too, is recomputed as before. Invalidations without sums from a worker of the release before
are recomputed the same way, so workers need not stop for this one.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

ACROSS = {
    "observations_5m_all": ("observations_5m", "5 minutes"),
    "observations_1h_all": ("observations_1h", "1 hour"),
}
# What the rows a batch added to a bucket come to; all null for a changed row's bucket.
SUMS = (
    ("n", "integer"),
    ("total", "double precision"),
    ("minimum", "double precision"),
    ("maximum", "double precision"),
)
WATERMARK_LOCK = 290017  # migration 0017's, copied: a migration does not change with the code
ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"

# Per rollup, as migration 0017's (its text, with the invalidations' two parts in between): the
# buckets from the watermark to the last closed one at ``at``, a day at most a call, summed
# from the per-entity rollup series by series; then, below the watermark, the buckets only new
# rows invalidated get those rows' sums added ({added}), and the buckets a changed row
# invalidated are recomputed ({recomputed} says which).
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
        maximum = EXCLUDED.maximum;{added}
    INSERT INTO {table} (feed, metric, bucket, n, total, minimum, maximum)
    SELECT s.feed, s.metric, s.bucket, agg.n, agg.total, agg.minimum, agg.maximum
    FROM (
        SELECT DISTINCT feed, metric, date_bin('{width}', bucket, {origin}) AS bucket
        FROM rollup_invalidations WHERE bucket < was{recomputed}
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
# A bucket (of this rollup's width) all of whose invalidations carry sums: only rows added.
ADDED = """
    INSERT INTO {table} AS r (feed, metric, bucket, n, total, minimum, maximum)
    SELECT feed, metric, date_bin('{width}', bucket, {origin}),
           sum(n)::integer, sum(total), min(minimum), max(maximum)
    FROM rollup_invalidations WHERE bucket < was
    GROUP BY 1, 2, 3
    HAVING count(n) = count(*)
    ON CONFLICT (feed, metric, bucket) DO UPDATE
    SET n = r.n + EXCLUDED.n, total = r.total + EXCLUDED.total,
        minimum = least(r.minimum, EXCLUDED.minimum),
        maximum = greatest(r.maximum, EXCLUDED.maximum);"""
# A bucket with an invalidation without sums: a changed row there (or a worker of 0017's).
RECOMPUTED = " AND n IS NULL"
REFRESH = f"""
CREATE OR REPLACE FUNCTION ioc_refresh_rollups_across(at timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
-- Plain mode's refresh of the rollups across entities (see migrations 0017 and 0018).
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


def _refresh(*, with_sums: bool) -> str:
    steps = []
    for name, (source, width) in ACROSS.items():
        names = {"table": name, "width": width, "origin": ORIGIN}
        steps.append(
            REFRESH_STEP.format(
                source=source,
                added=ADDED.format(**names) if with_sums else "",
                recomputed=RECOMPUTED if with_sums else "",
                **names,
            )
        )
    return REFRESH.replace("{steps}", "".join(steps))


def _plain() -> bool:
    mode = op.get_bind().execute(text("SELECT value FROM storage_info WHERE key = 'mode'"))
    return str(mode.scalar_one()) == "postgres"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    # In both modes, so one table reads the same everywhere (TimescaleDB's stays empty).
    op.execute(
        "ALTER TABLE rollup_invalidations "
        + ", ".join(f"ADD COLUMN {name} {kind}" for name, kind in SUMS)
    )
    if _plain():
        op.execute(_refresh(with_sums=True))


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    if _plain():
        op.execute(_refresh(with_sums=False))
    op.execute(
        "ALTER TABLE rollup_invalidations " + ", ".join(f"DROP COLUMN {name}" for name, _ in SUMS)
    )

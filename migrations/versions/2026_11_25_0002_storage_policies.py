"""Storage policies: retention, 5-minute and 1-hour rollups, compression.

TimescaleDB mode: continuous aggregates with refresh policies, compression and retention
policies, all run by TimescaleDB's own scheduler. Plain mode: rollup tables the worker keeps
exact in each batch's transaction, and ``ioc_maintain`` (called by the worker at start and
hourly) creating partitions ahead and dropping those past retention.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Longer than the longest backfill bound (programme tasks: 1,100 days): nothing admissible is
# ever dropped.
RETENTION_DAYS = 1200
ROLLUPS = {"observations_5m": "5 minutes", "observations_1h": "1 hour"}

MAINTAIN = """
CREATE FUNCTION ioc_maintain(at timestamptz, retention interval, ahead interval)
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
    DELETE FROM observations_5m WHERE bucket < at - retention;
    DELETE FROM observations_1h WHERE bucket < at - retention;
    RETURN format('%s partitions created, %s dropped', created, dropped);
END $$;
"""


def _mode() -> str:
    mode: str = (
        op.get_bind()
        .execute(text("SELECT value FROM storage_info WHERE key = 'mode'"))
        .scalar_one()
    )
    return mode


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(f"INSERT INTO storage_info VALUES ('retention_days', '{RETENTION_DAYS}')")
    if _mode() == "timescaledb":
        _timescaledb_policies()
        return
    for name in ROLLUPS:
        op.execute(f"""
            CREATE TABLE {name} (
                feed text NOT NULL,
                entity text NOT NULL,
                metric text NOT NULL,
                bucket timestamptz NOT NULL,
                n integer NOT NULL,
                total double precision NOT NULL,
                minimum double precision NOT NULL,
                maximum double precision NOT NULL,
                PRIMARY KEY (feed, entity, metric, bucket)
            )
        """)
    op.execute(MAINTAIN)


def _timescaledb_policies() -> None:
    for table in ("observations", "states"):
        op.execute(f"SELECT add_retention_policy('{table}', INTERVAL '{RETENTION_DAYS} days')")
    op.execute(
        "ALTER TABLE observations SET (timescaledb.compress, "
        "timescaledb.compress_segmentby = 'feed, entity, metric', "
        "timescaledb.compress_orderby = 'ts DESC')"
    )
    op.execute("SELECT add_compression_policy('observations', INTERVAL '30 days')")
    # Continuous aggregates cannot be created inside a transaction.
    with op.get_context().autocommit_block():
        for name, width in ROLLUPS.items():
            op.execute(f"""
                CREATE MATERIALIZED VIEW {name} WITH (timescaledb.continuous) AS
                SELECT feed, entity, metric, time_bucket(INTERVAL '{width}', ts) AS bucket,
                       count(*)::integer AS n, sum(value) AS total,
                       min(value) AS minimum, max(value) AS maximum
                FROM observations
                GROUP BY feed, entity, metric, time_bucket(INTERVAL '{width}', ts)
                WITH NO DATA
            """)
            op.execute(
                f"SELECT add_continuous_aggregate_policy('{name}', "
                "start_offset => INTERVAL '30 days', end_offset => NULL, "
                "schedule_interval => INTERVAL '1 minute')"
            )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    if _mode() == "timescaledb":
        with op.get_context().autocommit_block():
            for name in ROLLUPS:
                op.execute(f"DROP MATERIALIZED VIEW {name}")
        op.execute("SELECT remove_compression_policy('observations')")
        for table in ("observations", "states"):
            op.execute(f"SELECT remove_retention_policy('{table}')")
    else:
        op.execute("DROP FUNCTION ioc_maintain(timestamptz, interval, interval)")
        for name in ROLLUPS:
            op.execute(f"DROP TABLE {name}")
    op.execute("DELETE FROM storage_info WHERE key = 'retention_days'")

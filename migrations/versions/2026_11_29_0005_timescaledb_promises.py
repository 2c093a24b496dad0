"""TimescaleDB mode's promises: chunk intervals sized to the feeds, real-time aggregates that
are refreshed over their whole range, aggregates kept as long as the rows. (Plain mode: nothing.)

Chunk intervals (TimescaleDB's guidance: a chunk and its indexes fit in a quarter of memory; few
enough chunks that one write touches few):
- ``observations``: 7 days. A province's sensors (about 200 traffic cameras every 5 minutes,
  50 salinity and 20 air stations every 15 minutes to an hour, hospitals every 6 hours) make
  about 150,000 rows a day, 1 M rows (some 150 MB with indexes) a week: far inside memory, and
  backfilled daily feeds spanning three years touch 160 chunks instead of 1,100.
- ``states``: 30 days. Citizen reports, dossiers and programme tasks: a few thousand rows a
  day, reaching years back.

The default time index of each hypertable goes: every query names a feed, the primary key's
first column. The 5-minute and 1-hour aggregates read the rows not yet materialized at query time
(``materialized_only = false``), so a series shows what was written a moment ago. Their refresh
policy covers the whole range (no start offset): TimescaleDB refreshes only the buckets whose
rows changed, so a late record or a correction months back is materialized at the next run (a
minute), where a 30-day window would have left it out forever.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CHUNK_INTERVALS = {"observations": "7 days", "states": "30 days"}
AGGREGATES = ("observations_5m", "observations_1h")
REFRESH_EVERY = "1 minute"


def _timescaledb() -> bool:
    mode = op.get_bind().execute(text("SELECT value FROM storage_info WHERE key = 'mode'"))
    return bool(mode.scalar_one() == "timescaledb")


def _retention_days() -> int:
    days = op.get_bind().execute(
        text("SELECT value FROM storage_info WHERE key = 'retention_days'")
    )
    return int(days.scalar_one())


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    if not _timescaledb():
        return
    for table, interval in CHUNK_INTERVALS.items():
        op.execute(f"SELECT set_chunk_time_interval('{table}', INTERVAL '{interval}')")
        # Every query names a feed (the primary key's first column); chunks are found by time
        # without it. One btree fewer a row to write.
        op.execute(f"DROP INDEX {table}_ts_idx")
    for name in AGGREGATES:
        op.execute(f"ALTER MATERIALIZED VIEW {name} SET (timescaledb.materialized_only = false)")
        op.execute(f"SELECT remove_continuous_aggregate_policy('{name}')")
        op.execute(
            f"SELECT add_continuous_aggregate_policy('{name}', start_offset => NULL, "
            f"end_offset => NULL, schedule_interval => INTERVAL '{REFRESH_EVERY}')"
        )
        op.execute(f"SELECT add_retention_policy('{name}', INTERVAL '{_retention_days()} days')")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    if not _timescaledb():
        return
    for name in AGGREGATES:
        op.execute(f"SELECT remove_retention_policy('{name}')")
        op.execute(f"SELECT remove_continuous_aggregate_policy('{name}')")
        op.execute(
            f"SELECT add_continuous_aggregate_policy('{name}', "
            "start_offset => INTERVAL '30 days', end_offset => NULL, "
            f"schedule_interval => INTERVAL '{REFRESH_EVERY}')"
        )
        op.execute(f"ALTER MATERIALIZED VIEW {name} SET (timescaledb.materialized_only = true)")
    for table in CHUNK_INTERVALS:
        op.execute(f"SELECT set_chunk_time_interval('{table}', INTERVAL '1 day')")
        op.execute(f"CREATE INDEX {table}_ts_idx ON {table} (ts DESC)")

"""The store's schema as SQLAlchemy Core metadata: what the migrations build, and what
``tests/integration/common/test_migrations.py`` checks they built. Only migrations change the
schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.types import TypeEngine

metadata = MetaData()


storage_info = Table(
    "storage_info",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
    comment="How the store was built: 'mode' is timescaledb or postgres, chosen at migration.",
)


def _event_table(name: str, value_type: TypeEngine[Any]) -> Table:
    """One row per (series, event time). Partitioned by event time: native range partitions in
    plain mode, a hypertable in TimescaleDB mode. The source partition and offset say which
    message wrote the row (the later one in log order wins)."""
    return Table(
        name,
        metadata,
        Column("feed", Text, nullable=False),
        Column("entity", Text, nullable=False),
        Column("metric", Text, nullable=False),
        Column("ts", DateTime(timezone=True), nullable=False),
        Column("value", value_type, nullable=False),
        Column("src_partition", Integer, nullable=False),
        Column("src_offset", BigInteger, nullable=False),
        Column("ingested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("feed", "entity", "metric", "ts"),
    )


observations = _event_table("observations", Float())  # numeric metrics
states = _event_table("states", Text())  # text states: a citizen report's, a programme task's


def _rollup(name: str) -> Table:
    """Per-series aggregates of numeric observations over fixed buckets (5 min, 1 h): a table the
    worker keeps exact in plain mode, a continuous aggregate in TimescaleDB mode."""
    return Table(
        name,
        metadata,
        Column("feed", Text, nullable=False),
        Column("entity", Text, nullable=False),
        Column("metric", Text, nullable=False),
        Column("bucket", DateTime(timezone=True), nullable=False),
        Column("n", Integer, nullable=False),
        Column("total", Float, nullable=False),
        Column("minimum", Float, nullable=False),
        Column("maximum", Float, nullable=False),
        PrimaryKeyConstraint("feed", "entity", "metric", "bucket"),
        _past_retention(name),
    )


def _past_retention(rollup: str) -> Index:
    """What plain mode's retention deletes by (``ioc_maintain``, hourly): a BRIN index, a few
    pages that a batch's writes barely touch (migration 0019)."""
    return Index(f"{rollup}_bucket", "bucket", postgresql_using="brin")


# Every time bucket starts at a multiple of its width from this origin: the rollups' buckets,
# the series' and TimescaleDB's (whose time_bucket agrees for widths dividing a day).
BUCKET_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
BUCKET_ORIGIN_SQL = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"

observations_5m = _rollup("observations_5m")
observations_1h = _rollup("observations_1h")


def _rollup_across(name: str) -> Table:
    """A feed's metric over fixed buckets, every entity summed: what a series reads (a row a
    bucket, not a row a bucket and entity). Kept like the per-entity rollups, per mode."""
    return Table(
        name,
        metadata,
        Column("feed", Text, nullable=False),
        Column("metric", Text, nullable=False),
        Column("bucket", DateTime(timezone=True), nullable=False),
        Column("n", Integer, nullable=False),
        Column("total", Float, nullable=False),
        Column("minimum", Float, nullable=False),
        Column("maximum", Float, nullable=False),
        PrimaryKeyConstraint("feed", "metric", "bucket"),
        _past_retention(name),
    )


observations_5m_all = _rollup_across("observations_5m_all")
observations_1h_all = _rollup_across("observations_1h_all")
# Where plain mode's rollups across entities are materialized up to (migration 0017).
rollup_watermarks = Table(
    "rollup_watermarks",
    metadata,
    Column("rollup", Text, primary_key=True),
    Column("watermark", DateTime(timezone=True), nullable=False),
)
# Buckets below a watermark that a late row or a correction changed since the last refresh:
# a series reads them from the rows (plain mode writes them; TimescaleDB mode's stay empty).
# New rows carry their count, sum, minimum and maximum there, which the refresh adds; a changed
# row carries none, and its bucket is recomputed.
rollup_invalidations = Table(
    "rollup_invalidations",
    metadata,
    Column("feed", Text, nullable=False),
    Column("metric", Text, nullable=False),
    Column("bucket", DateTime(timezone=True), nullable=False),
    Column("n", Integer),
    Column("total", Float),
    Column("minimum", Float),
    Column("maximum", Float),
    Index("rollup_invalidations_series", "feed", "metric", "bucket"),
)
# Plain mode's tables that TimescaleDB mode keeps otherwise: its rollups are continuous
# aggregates (views), their watermarks in its catalog.
PLAIN_ONLY = (
    "observations_5m",
    "observations_1h",
    "observations_5m_all",
    "observations_1h_all",
    "rollup_watermarks",
)

# The newest value of every series; it only moves forward in event time.
latest = Table(
    "latest",
    metadata,
    Column("feed", Text, nullable=False),
    Column("entity", Text, nullable=False),
    Column("metric", Text, nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("value", Float),
    Column("text", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("feed", "entity", "metric"),
)

# An entity's attributes (commune/ward, plan year, field, name) as of its newest message.
entities = Table(
    "entities",
    metadata,
    Column("feed", Text, nullable=False),
    Column("entity", Text, nullable=False),
    Column("attributes", JSONB, nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("feed", "entity"),
)

# Stable integer ids for the SensorThings API (``/sta/``), given when a series is first stored
# (a trigger on ``latest``, migration 0007): a thing is a feed's entity, a datastream its metric.
sta_things = Table(
    "sta_things",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("feed", Text, nullable=False),
    Column("entity", Text, nullable=False),
    UniqueConstraint("feed", "entity", name="sta_things_feed_entity_key"),
)
sta_datastreams = Table(
    "sta_datastreams",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("thing_id", BigInteger, ForeignKey("sta_things.id"), nullable=False),
    Column("feed", Text, nullable=False),
    Column("entity", Text, nullable=False),
    Column("metric", Text, nullable=False),
    UniqueConstraint("feed", "entity", "metric", name="sta_datastreams_feed_entity_metric_key"),
)

# Quarantine: every record that could not be ingested, with its reason and original bytes.
rejections = Table(
    "rejections",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("feed", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("rejected_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("topic", "partition", "offset"),
)
Index("rejections_feed_id", rejections.c.feed, rejections.c.id)

# API keys: only a SHA-256 of each key is stored.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("kind", Text, nullable=False),  # 'agency', 'reader' or 'operator' (0016)
    Column("subject", Text, nullable=False),  # the agency id or the reader's name
    Column("key_hash", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
    Column("label", Text),  # what the operator said it is for ("wall, meeting room 2")
    Column("prefix", Text),  # the key's first characters, not secret; None before 0014
    Column("last_used_at", DateTime(timezone=True)),  # to the minute (the API writes it so)
)

# Idempotency keys of HTTP pushes, per agency, kept 24 hours. A row without a response is a
# request still in flight.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("agency", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("response_status", Integer),
    Column("response_body", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("agency", "key"),
)
Index("idempotency_keys_created_at", idempotency_keys.c.created_at)

# Per feed and hour (migration 0010), what the worker received: the quality scores (đúng, sạch)
# read the last 24 hours of it, a province day is 24 of them.
feed_hourly_counts = Table(
    "feed_hourly_counts",
    metadata,
    Column("feed", Text, nullable=False),
    Column("hour", DateTime(timezone=True), nullable=False),
    Column("records", BigInteger, nullable=False, server_default="0"),
    Column("quarantined", BigInteger, nullable=False, server_default="0"),
    Column("repeated", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("feed", "hour"),
)

# Per source partition, the offset up to which its records are in feed_hourly_counts: a batch
# written again counts only what lies past it.
feed_count_marks = Table(
    "feed_count_marks",
    metadata,
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("counted_until", BigInteger, nullable=False),
    PrimaryKeyConstraint("topic", "partition"),
)

# The units of schemas/units/ as the API last loaded them (migration 0009): names and kinds for
# Grafana, which reads the store and not the unit files.
units = Table(
    "units",
    metadata,
    Column("code", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("name_en", Text, nullable=False),
)

# Per pull connector (schemas/connectors/), the newest value of the record field its `since`
# follows, as the department's API gave it (migration 0013): moved only once Kafka holds the pull.
connector_marks = Table(
    "connector_marks",
    metadata,
    Column("connector", Text, primary_key=True),
    Column("mark", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Per unit (schemas/units/) and local day, its scorecard over the day so far (migration
# 0008): the history behind /v1/units and the 7- and 30-day scores.
unit_scores = Table(
    "unit_scores",
    metadata,
    Column("unit", Text, nullable=False),
    Column("day", Date, nullable=False),
    Column("correct", Float),
    Column("sufficient", Float),
    Column("clean", Float),
    Column("live", Float),
    Column("timeliness", Float),
    Column("quarantine_ratio", Float),
    Column("tasks_assigned", Integer, nullable=False, server_default="0"),
    Column("tasks_done", Integer, nullable=False, server_default="0"),
    Column("tasks_overdue", Integer, nullable=False, server_default="0"),
    Column("tasks_due_soon", Integer, nullable=False, server_default="0"),
    Column("completion_rate", Float),
    Column("score", Float),
    Column("lagging", JSONB, nullable=False, server_default="[]"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The day's scores are means over the time they cover (migration 0011).
    Column("evaluated_at", DateTime(timezone=True)),
    Column("covered_s", Float, nullable=False, server_default="0"),
    PrimaryKeyConstraint("unit", "day"),
)

# The register of reminders: one open per unit and cause (a partial unique index), each with
# its life in reminder_events and its deliveries.
reminders = Table(
    "reminders",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("unit", Text, nullable=False),
    Column("cause", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("figures", JSONB, nullable=False),
    Column("respond_by", DateTime(timezone=True), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("acknowledged_by", Text),
    Column("escalated_at", DateTime(timezone=True)),
    Column("escalated_to", Text),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolution", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # When the evaluator saw a resolved reminder's cause no longer hold (migration 0015); NULL:
    # resolved by hand while its cause held, and it still does (the resolution stands).
    Column("cause_cleared_at", DateTime(timezone=True)),
    CheckConstraint(
        "status IN ('open', 'acknowledged', 'escalated', 'resolved')", name="reminders_status_check"
    ),
)
Index(
    "reminders_one_open_per_cause",
    reminders.c.unit,
    reminders.c.cause,
    unique=True,
    postgresql_where=reminders.c.status != "resolved",
)
Index("reminders_unit_issued", reminders.c.unit, reminders.c.issued_at.desc())
reminder_events = Table(
    "reminder_events",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("reminder_id", BigInteger, ForeignKey("reminders.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("event", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("detail", JSONB, nullable=False, server_default="{}"),
)
Index("reminder_events_reminder", reminder_events.c.reminder_id, reminder_events.c.id)
# A delivery's id is the one the receiver deduplicates by: the same on every retry.
reminder_deliveries = Table(
    "reminder_deliveries",
    metadata,
    Column("id", UUID, primary_key=True),
    Column("reminder_id", BigInteger, ForeignKey("reminders.id"), nullable=False),
    Column("occasion", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    # Which follow-up's notice it carries (migration 0015); 0: the reminder's own.
    Column("follow_up", Integer, nullable=False, server_default="0"),
    UniqueConstraint("reminder_id", "occasion", "follow_up", "channel", "target"),
    CheckConstraint(
        "occasion IN ('issued', 'escalated', 'follow_up')",
        name="reminder_deliveries_occasion_check",
    ),
    CheckConstraint(
        "status IN ('pending', 'delivered', 'failed', 'cancelled')",
        name="reminder_deliveries_status_check",
    ),
)
# What joined an open reminder's cause after it was issued, told in a numbered follow-up notice
# (migration 0015); the issued notice never changes.
reminder_follow_ups = Table(
    "reminder_follow_ups",
    metadata,
    Column("reminder_id", BigInteger, ForeignKey("reminders.id"), nullable=False),
    Column("follow_up", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("respond_by", DateTime(timezone=True), nullable=False),
    Column("figures", JSONB, nullable=False),
    PrimaryKeyConstraint("reminder_id", "follow_up"),
    CheckConstraint("follow_up > 0", name="reminder_follow_ups_follow_up_check"),
)
Index(
    "reminder_deliveries_due",
    reminder_deliveries.c.next_attempt_at,
    postgresql_where=reminder_deliveries.c.status == "pending",
)

# Spreadsheet uploads (migration 0012): one per feed, unit and file (its SHA-256); the receipt is
# NULL while the upload is in flight. The bytes are kept apart, deleted after their retention.
uploads = Table(
    "uploads",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("feed", Text, nullable=False),
    Column("unit", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("key_id", BigInteger, nullable=False),
    Column("file_name", Text),
    Column("size", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("receipt", JSONB),
    UniqueConstraint("feed", "unit", "sha256"),
)
Index("uploads_unit_newest", uploads.c.feed, uploads.c.unit, uploads.c.id.desc())
Index("uploads_received_at", uploads.c.received_at)
upload_files = Table(
    "upload_files",
    metadata,
    Column(
        "upload_id",
        BigInteger,
        ForeignKey("uploads.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("content", LargeBinary, nullable=False),
)
# Per unit and feed, the content hash of the row an upload last produced for each entity and
# event time: a row identical to it is not produced again.
upload_rows = Table(
    "upload_rows",
    metadata,
    Column("feed", Text, nullable=False),
    Column("unit", Text, nullable=False),
    Column("entity", Text, nullable=False),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("content_hash", LargeBinary, nullable=False),
    Column("upload_id", BigInteger, ForeignKey("uploads.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("feed", "unit", "entity", "event_time"),
)
Index("upload_rows_upload", upload_rows.c.upload_id)

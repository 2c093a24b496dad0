"""Stable integer ids for the OGC SensorThings API: one per thing (a feed's entity: a station, a
hospital, a ward, a task) and one per datastream (a thing's metric). SensorThings clients and the
OGC's test suite address entities by integer ``@iot.id``; the store's keys are text.

The ids are given when a series is first stored: a statement-level trigger on ``latest`` (a row
is inserted there exactly once per series, whoever writes it) numbers what its statement
inserted. Updates of ``latest`` fire nothing, so the worker's hot path pays one empty insert a
batch. A store migrated with data numbers its series here, in key order.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE TABLE sta_things (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            feed text NOT NULL,
            entity text NOT NULL,
            CONSTRAINT sta_things_feed_entity_key UNIQUE (feed, entity)
        )
    """)
    op.execute("""
        CREATE TABLE sta_datastreams (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            thing_id bigint NOT NULL REFERENCES sta_things (id),
            feed text NOT NULL,
            entity text NOT NULL,
            metric text NOT NULL,
            CONSTRAINT sta_datastreams_feed_entity_metric_key UNIQUE (feed, entity, metric)
        )
    """)
    op.execute("""
        CREATE FUNCTION sta_number_new_series() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- Only what is not numbered yet asks for a number: an identity spends one on
            -- every row tried, even one that conflicts.
            INSERT INTO sta_things (feed, entity)
            SELECT DISTINCT feed, entity FROM added
            WHERE NOT EXISTS (
                SELECT 1 FROM sta_things t WHERE (t.feed, t.entity) = (added.feed, added.entity)
            )
            ORDER BY feed, entity
            ON CONFLICT DO NOTHING;
            INSERT INTO sta_datastreams (thing_id, feed, entity, metric)
            SELECT t.id, added.feed, added.entity, added.metric
            FROM added JOIN sta_things t ON t.feed = added.feed AND t.entity = added.entity
            ORDER BY added.feed, added.entity, added.metric
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END
        $$
    """)
    op.execute("""
        CREATE TRIGGER sta_number_new_series AFTER INSERT ON latest
        REFERENCING NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION sta_number_new_series()
    """)
    op.execute("""
        INSERT INTO sta_things (feed, entity)
        SELECT DISTINCT feed, entity FROM latest ORDER BY feed, entity
    """)
    op.execute("""
        INSERT INTO sta_datastreams (thing_id, feed, entity, metric)
        SELECT t.id, l.feed, l.entity, l.metric
        FROM latest l JOIN sta_things t ON t.feed = l.feed AND t.entity = l.entity
        ORDER BY l.feed, l.entity, l.metric
    """)


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TRIGGER sta_number_new_series ON latest")
    op.execute("DROP FUNCTION sta_number_new_series()")
    op.execute("DROP TABLE sta_datastreams")
    op.execute("DROP TABLE sta_things")

"""Spreadsheet uploads: each file a unit uploaded (its SHA-256, who, when, its receipt), its
bytes kept apart (``upload_files``, deleted after ``IOC_UPLOAD_KEPT_DAYS``), and per unit and
feed the content hash of the row last produced for each entity and event time
(``upload_rows``), so a corrected file sends only the rows that changed. One upload per feed,
unit and SHA-256: a unique constraint says so, not the code.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("""
        CREATE TABLE uploads (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            feed text NOT NULL,
            unit text NOT NULL,
            sha256 text NOT NULL,
            key_id bigint NOT NULL,
            file_name text,
            size integer NOT NULL,
            received_at timestamptz NOT NULL,
            receipt jsonb,
            UNIQUE (feed, unit, sha256)
        )
    """)
    op.execute("CREATE INDEX uploads_unit_newest ON uploads (feed, unit, id DESC)")
    op.execute("CREATE INDEX uploads_received_at ON uploads (received_at)")
    op.execute("""
        CREATE TABLE upload_files (
            upload_id bigint PRIMARY KEY REFERENCES uploads (id) ON DELETE CASCADE,
            content bytea NOT NULL
        )
    """)
    op.execute("""
        CREATE TABLE upload_rows (
            feed text NOT NULL,
            unit text NOT NULL,
            entity text NOT NULL,
            event_time timestamptz NOT NULL,
            content_hash bytea NOT NULL,
            upload_id bigint NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
            PRIMARY KEY (feed, unit, entity, event_time)
        )
    """)
    op.execute("CREATE INDEX upload_rows_upload ON upload_rows (upload_id)")


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("DROP TABLE upload_rows, upload_files, uploads")

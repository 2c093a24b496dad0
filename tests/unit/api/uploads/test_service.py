"""Reading a whole file (``service._read``): every sheet, the row limit, the file refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from services.api.push.body import PayloadTooLarge
from services.api.uploads.body import UploadedFile
from services.api.uploads.service import Uploading, UploadRefused, _read
from services.common.feed_fields import fields_of
from services.common.feeds import FeedDefinition
from services.common.intake.feed_intake import FeedIntake
from tests.unit.api.uploads.workbooks import dossier_row, ward_report

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def _uploading(feeds: dict[str, FeedDefinition], max_rows: int = 100) -> Uploading:
    definition = feeds["admin-dossiers"]
    return Uploading(
        feed=definition,
        fields=fields_of(definition),
        intake=FeedIntake.of(definition),
        gateway=cast(Any, None),  # reading produces nothing
        topic="unused",
        now=NOW,
        future_bound=timedelta(minutes=5),
        max_rows=max_rows,
        broker_timeout_s=10,
    )


def test_rows_checked_by_the_feeds_intake_with_the_column_its_reason_names(
    feeds: dict[str, FeedDefinition],
) -> None:
    content = ward_report(
        [
            dossier_row(1, 1, 32002),
            dossier_row(2, 2, 2002),  # a code of four digits: the schema wants five
            dossier_row(3, 30, 32002),  # 30 December: ahead of the clock
        ]
    )
    outcome = _read(UploadedFile(content, "x.xlsx", "xlsx"), _uploading(feeds), "en")
    assert outcome.rows == 3
    assert [key for key, _, _ in outcome.records] == [
        ("32002", datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
    ]
    assert [(r.row, r.column) for r in outcome.rejected] == [(7, "C"), (8, None)]
    assert str(outcome.rejected[0].problem).startswith("schema: don_vi/ma: '2002' does not match")


def test_more_rows_than_the_limit_is_413(feeds: dict[str, FeedDefinition]) -> None:
    content = ward_report([dossier_row(n, n, 32002) for n in range(1, 4)])
    with pytest.raises(PayloadTooLarge, match="more than 2 data rows"):
        _read(UploadedFile(content, "x.xlsx", "xlsx"), _uploading(feeds, max_rows=2), "en")


def test_a_file_without_a_table_or_unreadable_is_refused_in_the_callers_language(
    feeds: dict[str, FeedDefinition],
) -> None:
    with pytest.raises(UploadRefused, match="không có trang tính nào"):
        _read(UploadedFile(b"a;b\n1;2\n", "x.csv", "csv"), _uploading(feeds), "vi")
    with pytest.raises(UploadRefused, match=r"^no sheet has a header row naming fields"):
        _read(UploadedFile(b"a;b\n1;2\n", "x.csv", "csv"), _uploading(feeds), "en")
    with pytest.raises(UploadRefused, match="cannot be read as xlsx"):
        _read(UploadedFile(b"PK\x03\x04 broken", "x.xlsx", "xlsx"), _uploading(feeds), "en")
    with pytest.raises(UploadRefused, match="not UTF-8"):
        _read(
            UploadedFile("Ngày;Số".encode("latin-1", errors="replace") + b"\xff", "x.csv", "csv"),
            _uploading(feeds),
            "en",
        )

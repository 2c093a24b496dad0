from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.common.feeds import FeedDefinition
from services.common.topics import Topics
from services.ingest.batch import Batch, assemble
from services.ingest.worker import feed_intakes

NOW = datetime(2026, 11, 26, tzinfo=UTC)
TOPIC = "ioc.raw.salinity"


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def _salinity(value: str, minute: str = "00") -> bytes:
    return json.dumps(
        {
            "ma_tram": "S1",
            "thoi_gian": f"25/11/2026 06:{minute}",
            "do_man_phan_nghin": value,
            "muc_nuoc_cm": 100,
            "xa_phuong_ma": "32150",
        }
    ).encode()


def _assemble(feeds: dict[str, FeedDefinition], values: list[bytes | None]) -> Batch:
    records = [Record(TOPIC, 0, offset, value) for offset, value in enumerate(values)]
    return assemble(
        records,
        feed_intakes(feeds.values(), Topics()),
        now=lambda: NOW,
        future_bound=timedelta(minutes=5),
    )


def test_the_latest_record_in_log_order_wins_within_a_batch(
    feeds: dict[str, FeedDefinition],
) -> None:
    batch = _assemble(feeds, [_salinity("1,0"), _salinity("2,0"), _salinity("3,0")])
    values = {key[2]: row.observation.value for key, row in batch.rows.items()}
    assert values == {"salinity_ppt": 3.0, "water_level_m": 1.0}
    assert batch.offsets == {(TOPIC, 0): 3}


def test_a_pulled_records_rejection_names_the_page_it_came_from(
    feeds: dict[str, FeedDefinition],
) -> None:
    page = "https://lgsp.example.vn/syt?trang=3"
    records = [
        Record(TOPIC, 0, 0, b"<html>", (("pulled_from", page.encode()),)),
        Record(TOPIC, 0, 1, b"{", (("other", b"x"),)),
    ]
    batch = assemble(
        records,
        feed_intakes(feeds.values(), Topics()),
        now=lambda: NOW,
        future_bound=timedelta(minutes=5),
    )
    [pulled, pushed] = [r.reason for r in batch.quarantined]
    assert pulled.startswith("decode: not JSON")
    assert pulled.endswith(f" (pulled from {page})")
    assert "pulled from" not in pushed


def test_rejections_keep_their_bytes_and_do_not_stop_the_batch(
    feeds: dict[str, FeedDefinition],
) -> None:
    batch = _assemble(feeds, [None, b"{", _salinity("1,0", minute="15")])
    assert [(r.offset, r.reason) for r in batch.quarantined] == [
        (0, "decode: empty record (no value)"),
        (1, "decode: not JSON (unexpected end of data at line 1 column 2)"),
    ]
    assert batch.quarantined[1].raw == b"{"
    assert len(batch.rows) == 2
    assert batch.records == 3

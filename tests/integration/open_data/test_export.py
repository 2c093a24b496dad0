"""Open-data exports from a real store: a feed's day holds exactly its stored rows, in CSV and in
Parquet, the catalogue says what they are, and the same data gives the same checksum."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from services.common.feeds import FeedDefinition
from services.common.province import province_day
from services.common.settings import REPO_ROOT, CommonSettings
from services.open_data.export import ExportError, day_bounds, export_day, export_days
from tests.integration.conftest import db_connection
from tests.integration.pipeline import ingest_every_example
from tests.integration.processes import service_env

pytestmark = pytest.mark.integration
DAYS = (date(2026, 11, 24), date(2026, 11, 26))  # around the examples


def _quiet(done: int, total: int, rows: int) -> None:
    pass


def _stored_rows(feed: FeedDefinition, day: date) -> list[tuple[str, ...]]:
    """The day's rows as the feed's expectations say they are stored, as the CSV writes them."""
    start, end = day_bounds(day)
    units = {m.name: m.unit for m in feed.metrics}
    rows = []
    for line in (feed.directory / "expected.ndjson").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        ts = datetime.fromisoformat(record["ts"])
        if start <= ts < end:
            for metric, value in record["observations"].items():
                number, text = (
                    (repr(float(value)), "") if not isinstance(value, str) else ("", value)
                )
                stamp = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
                rows.append((record["entity"], metric, stamp, number, text, units[metric]))
    return sorted(set(rows), key=lambda r: (r[2], r[0], r[1]))


@pytest.mark.asyncio(loop_scope="session")
async def test_a_days_export_holds_exactly_its_stored_rows_and_checksums_repeat(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    db: Any,
    tmp_path: Path,
) -> None:
    await ingest_every_example(settings, feeds)
    salinity = feeds["salinity"]
    public = [name for name, feed in feeds.items() if feed.public]
    async with db_connection(db) as connection:
        exported = await export_days(connection, salinity, *DAYS, tmp_path, public, _quiet)

    assert [d.day for d in exported] == [date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)]
    assert sum(d.rows for d in exported) > 0
    for day_export in exported:
        expected = _stored_rows(salinity, day_export.day)
        csv_path = tmp_path / "salinity" / f"{day_export.day}.csv"
        lines = csv_path.read_text(encoding="utf-8").splitlines()
        assert lines[0] == "entity,metric,ts,value,text,unit"
        assert [tuple(line.split(",")) for line in lines[1:]] == expected
        table = pq.read_table(tmp_path / "salinity" / f"{day_export.day}.parquet").to_pylist()
        assert len(table) == len(expected) == day_export.rows
        assert [(r["entity"], r["metric"], r["value"], r["text"]) for r in table] == [
            (e, m, float(v) if v else None, t or None) for e, m, _, v, t, _ in expected
        ]
        entry = day_export.entry
        assert entry["rows"] == len(expected)
        assert entry["units"] == {"salinity_ppt": "‰", "water_level_m": "m"}
        for kind in ("csv", "parquet"):
            path = tmp_path / entry["files"][kind]["path"]
            assert entry["files"][kind]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()

    # Exported again, the same data gives the same bytes, so the same checksums.
    async with db_connection(db) as connection:
        again = await export_day(connection, salinity, DAYS[0], tmp_path / "again")
    assert again.entry["files"]["csv"]["sha256"] == exported[0].entry["files"]["csv"]["sha256"]
    assert (
        again.entry["files"]["parquet"]["sha256"] == exported[0].entry["files"]["parquet"]["sha256"]
    )

    catalogue = json.loads((tmp_path / "catalogue.json").read_text(encoding="utf-8"))
    assert [(d["feed"], d["period"]["day"]) for d in catalogue["datasets"]] == [
        ("salinity", str(d.day)) for d in exported
    ]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_feed_that_is_not_public_is_not_exported(
    feeds: dict[str, FeedDefinition], db: Any, tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match="'hospital-beds' is not public"):
        async with db_connection(db) as connection:
            await export_days(connection, feeds["hospital-beds"], *DAYS, tmp_path, [], _quiet)
    assert list(tmp_path.iterdir()) == []


async def _ioc_export(env: dict[str, str], first: str, last: str) -> Any:
    command = ["export", "--feed", "salinity", "--from", first, "--to", last]
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", *command],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_ioc_export_shows_its_progress_and_refuses_clearly(
    settings: CommonSettings, tmp_path: Path
) -> None:
    env = service_env(settings, IOC_OPEN_DATA_DIR=str(tmp_path))
    done = await _ioc_export(env, "2026-11-20", "2026-11-26")
    assert done.returncode == 0, done.stderr
    assert "[##############################] 7/7 days" in done.stderr
    assert done.stdout.startswith(
        "exported 7 days (2026-11-20 to 2026-11-26, days in Asia/Ho_Chi_Minh; 0 rows)"
    )
    assert (tmp_path / "salinity" / "2026-11-20.csv").read_text(encoding="utf-8") == (
        "entity,metric,ts,value,text,unit\n"
    )
    backwards = await _ioc_export(env, "2026-11-26", "2026-11-20")
    assert backwards.returncode != 0
    assert "--to 2026-11-20 is before --from 2026-11-26" in backwards.stderr


@pytest.mark.asyncio(loop_scope="session")
async def test_ioc_export_takes_day_first_refuses_days_to_come_and_warns_for_today(
    settings: CommonSettings, tmp_path: Path
) -> None:
    env = service_env(settings, IOC_OPEN_DATA_DIR=str(tmp_path))
    day_first = await _ioc_export(env, "20/11/2026", "21/11/2026")
    assert day_first.returncode == 0, day_first.stderr
    assert (tmp_path / "salinity" / "2026-11-21.csv").exists()
    assert "warning" not in day_first.stderr

    # The command reads the clock the test reads (the real one, or faketime's for both).
    today = province_day(datetime.now(UTC))
    ahead = await _ioc_export(env, str(today), str(today + timedelta(days=2)))
    assert ahead.returncode == 1
    assert ahead.stderr.startswith(f"ioc export: --to {today + timedelta(days=2)} has not come yet")
    for _ in range(2):  # once more if the province's midnight fell during the run
        now = await _ioc_export(env, today.strftime("%d/%m/%Y"), today.strftime("%d/%m/%Y"))
        if province_day(datetime.now(UTC)) == today:
            break
        today = province_day(datetime.now(UTC))
    assert now.returncode == 0, now.stderr
    assert now.stderr.splitlines()[0] == (
        f"ioc export: warning: {today} is today in Asia/Ho_Chi_Minh and not over: its files hold"
        " the rows stored so far; export it again tomorrow"
    )
    unreadable = await _ioc_export(env, "11/24/2026", "2026-11-25")
    assert unreadable.returncode == 2  # argparse's: the usage, then the reason
    assert "write 2026-11-24 or 24/11/2026 (day first)" in unreadable.stderr.splitlines()[-1]

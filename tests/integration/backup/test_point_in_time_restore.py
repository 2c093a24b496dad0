"""Backups that restore: a PostgreSQL of its own archiving its WAL to a pgBackRest repository; the
store filled by a real worker, backed up, written again, restored to a point in time between,
holding exactly what was committed before it; then the worker, its group rewound to the store,
ingests the rest again from Kafka, ending with every record once."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import pytest

from services.backup.offsets import rewind_to_store, wait_until_writable
from services.backup.pgbackrest import BackupSettings, backup, create_stanza, restore_to
from services.common.feeds import FeedDefinition
from services.common.migrate import upgrade
from services.common.settings import CommonSettings
from tests.integration.conftest import StackUnderTest
from tests.integration.own_postgres import (
    PG_BIN,
    give_to_pg_owner,
    pg_owner,
    postgres_home,
    running_postgres,
)
from tests.integration.pipeline import all_committed, eventually, produce, running_worker
from tests.integration.processes import free_port

pytestmark = pytest.mark.integration
STANZA = "ioc"
# Every row of the event tables and the hourly counts, in key order, hashed: the same content
# gives the same checksum.
CHECKSUM = """
SELECT (SELECT count(*) FROM observations) + (SELECT count(*) FROM states) AS rows,
       md5(coalesce((SELECT string_agg(concat_ws('|', feed, entity, metric, ts, value), ',' ORDER BY
           feed, entity, metric, ts) FROM observations), '')) AS checksum,
       (SELECT coalesce(sum(records), 0) FROM feed_hourly_counts) AS counted
"""


@dataclass(frozen=True)
class ArchivingCluster:
    url: str
    backups: BackupSettings


@pytest.fixture
def cluster(stack: StackUnderTest) -> Iterator[ArchivingCluster]:
    """A cluster archiving every WAL segment to a pgBackRest repository, in the test stack's
    storage mode."""
    if shutil.which("pgbackrest") is None:
        pytest.fail("pgbackrest is missing: `make tools` installs Debian's package")
    with postgres_home("ioc-backup-") as home:
        data, repo, config = home / "data", home / "repo", home / "pgbackrest.conf"
        port = free_port()
        config.write_text(
            f"[global]\nrepo1-path={repo}\nrepo1-retention-full=2\nlog-level-console=warn\n"
            f"log-path={home}\nlock-path={home}\nspool-path={home}\n\n"
            f"[{STANZA}]\npg1-path={data}\npg1-port={port}\npg1-socket-path={home}\n",
            encoding="utf-8",
        )
        repo.mkdir()
        give_to_pg_owner(repo, config)
        archiving = [
            "wal_level = replica",
            "archive_mode = on",
            f"archive_command = 'pgbackrest --config={config} --stanza={STANZA} archive-push %p'",
        ]
        with running_postgres(home, port, stack.storage_mode, archiving):
            url = f"postgresql://postgres@127.0.0.1:{port}/ioc"
            upgrade(url, storage_mode=stack.storage_mode)
            backups = BackupSettings(STANZA, config, data, PG_BIN, pg_owner())
            create_stanza(backups)
            yield ArchivingCluster(url, backups)


async def _state(url: str) -> tuple[Any, ...]:
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(CHECKSUM)
        now = await connection.fetchval("SELECT now()")
    finally:
        await connection.close()
    return int(row["rows"]), row["checksum"], int(row["counted"]), now


@pytest.mark.asyncio(loop_scope="session")
async def test_a_point_in_time_restore_holds_what_was_committed_and_kafka_gives_back_the_rest(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], cluster: ArchivingCluster
) -> None:
    store = replace(settings, database_url=cluster.url)
    group = f"restore-{uuid.uuid4().hex[:8]}"
    salinity = feeds["salinity"].examples_path.read_bytes().splitlines()
    first, second, third = salinity[:8], salinity[8:16], salinity[16:]

    async def ingest(records: list[bytes], total: int) -> None:
        await produce(store, "salinity", records)
        async with running_worker(store, feeds, group_id=group) as worker:
            await eventually(lambda: all_committed(worker, "salinity", total))

    await ingest(first, 8)
    await asyncio.to_thread(backup, cluster.backups, "full")
    # pgBackRest keeps a backup's stop time to the second: the point in time lies a second past.
    await asyncio.sleep(1.5)
    await ingest(second, 16)
    rows_before, checksum_before, counted_before, moment = await _state(cluster.url)
    await asyncio.sleep(1.5)  # the point in time lies strictly between the two writes
    await ingest(third, len(salinity))
    rows_all, checksum_all, counted_all, _ = await _state(cluster.url)
    assert rows_all > rows_before

    await asyncio.to_thread(restore_to, cluster.backups, moment)
    await wait_until_writable(cluster.url)
    assert (await _state(cluster.url))[:3] == (rows_before, checksum_before, counted_before)

    topic = store.topics.raw("salinity")
    rewound = await rewind_to_store(cluster.url, store.kafka, group, [topic])
    assert sum(rewound.values()) == 16  # where the store's data ends, partition by partition
    async with running_worker(store, feeds, group_id=group) as worker:
        await eventually(lambda: all_committed(worker, "salinity", len(salinity)))
    # Every record once: the same rows and checksum as before the restore, each counted once.
    assert (await _state(cluster.url))[:3] == (rows_all, checksum_all, counted_all)
    assert counted_all == len(salinity)

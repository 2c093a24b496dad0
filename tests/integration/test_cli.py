"""`ioc info` against the real store: settings a person reads (no dataclass's repr, no SASL
mechanism on a PLAINTEXT connection) and every time with its zone. The operator's views on a
store never migrated: one line asking for `ioc migrate`."""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.common.topics import Topics
from tests.integration.conftest import (
    StackUnderTest,
    drop_database,
    empty_database_url,
    settings_for,
)
from tests.integration.processes import run_ioc, service_env

pytestmark = pytest.mark.integration


@pytest.mark.asyncio(loop_scope="session")
async def test_info_says_where_things_are_in_words_and_times_with_their_zone(
    stack: StackUnderTest, database_url: str, db: Any
) -> None:
    if stack.storage_mode == "timescaledb":  # a job's next start: 07:00 in the province
        await db.execute("SELECT alter_job(1000, next_start => '2099-01-01 00:00+00')")
    settings = settings_for(database_url, stack.kafka, Topics(""))
    done = run_ioc(service_env(settings), "info")
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(":", 1) for line in done.stdout.splitlines() if line[:1] != " ")
    assert lines["kafka"].strip() == f"{stack.kafka.bootstrap} over PLAINTEXT"
    assert lines["storage mode"].strip() == stack.storage_mode
    assert "KafkaConnection" not in done.stdout
    assert "SCRAM" not in done.stdout
    assert "sasl" not in done.stdout.lower()
    jobs = [line for line in done.stdout.splitlines() if re.match(r" +\d+ ", line)]
    if stack.storage_mode == "timescaledb":
        assert lines["jobs"].strip() == "times in Asia/Ho_Chi_Minh, with their offset"
        assert jobs, done.stdout
        assert [job.split()[0] for job in jobs if "2099-01-01 07:00 +07:00" in job] == ["1000"]
    else:
        assert jobs == []


VIEWS = {
    "ioc feeds": ["feeds"],
    "ioc rejections list": ["rejections", "list", "--feed", "salinity"],
    "ioc reminders list": ["reminders", "list"],
    "ioc reminders show": ["reminders", "show", "1"],
    "ioc keys list": ["keys", "list"],
}


@pytest.mark.asyncio(loop_scope="session")
async def test_a_store_never_migrated_is_one_line_asking_for_ioc_migrate(
    stack: StackUnderTest,
) -> None:
    url = await empty_database_url()
    try:
        env = service_env(settings_for(url, stack.kafka, Topics("")))
        for command, args in VIEWS.items():
            done = run_ioc(env, *args)
            assert done.returncode == 1, command
            [said] = done.stderr.splitlines()
            assert said.startswith(f"{command}: the store at 127.0.0.1:"), said
            assert said.endswith("does not exist): run ioc migrate (make up does)"), said
    finally:
        await drop_database(url)

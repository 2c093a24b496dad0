"""`ioc keys issue --agency`: every unit of schemas/units/ may hold a key, communes included
(they are who missed-deadline reminders go to), and a code no unit or feed has is refused. A key
has a label and a prefix an operator can tell it by; `keys list` filters by kind and unit."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.feeds import FeedDefinition
from services.common.settings import CommonSettings
from services.common.topics import Topics
from services.common.units import load_units
from tests.integration.conftest import StackUnderTest, settings_for
from tests.integration.processes import run_ioc, service_env

pytestmark = pytest.mark.integration


@pytest.mark.asyncio(loop_scope="session")
async def test_every_unit_may_be_issued_a_key_and_an_unknown_code_is_refused(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    env = service_env(settings)
    codes = sorted(load_units(settings.schemas_dir, feeds).by_code)
    assert "32150" in codes  # a commune: it owns no feed
    for code in codes:
        done = run_ioc(env, "keys", "issue", "--agency", code)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("issued agency key #"), done.stdout
    subjects = [row["subject"] for row in await db.fetch("SELECT subject FROM api_keys")]
    assert sorted(subjects) == codes
    refused = run_ioc(env, "keys", "issue", "--agency", "99999")
    assert refused.returncode == 1
    assert refused.stderr.startswith("ioc keys issue: unknown agency '99999'; known: ")
    assert "Traceback" not in refused.stderr


@pytest.mark.asyncio(loop_scope="session")
async def test_a_key_has_its_label_and_prefix_and_keys_list_filters_by_kind_and_unit(
    stack: StackUnderTest, database_url: str, db: Any
) -> None:
    env = service_env(settings_for(database_url, stack.kafka, Topics("")))

    def ioc(*args: str) -> str:
        done = run_ioc(env, "keys", *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    wall = ioc("issue", "--reader", "wall", "--label", "wall,  meeting room 2")
    said, key = wall.splitlines()
    wall_id = int(said.split("#")[1].split()[0])
    assert said == (
        f"issued reader key #{wall_id} for wall (wall, meeting room 2); it is shown once, keep it"
        " safe:"
    )
    prefix = key[:12]
    assert prefix.startswith("ioc_")
    sxd = ioc("issue", "--agency", "sxd").splitlines()[0]
    sxd_id = int(sxd.split("#")[1].split()[0])
    ioc("issue", "--agency", "syt")
    ioc("revoke", str(sxd_id))

    header, *rows, footer = ioc("list").splitlines()
    assert header.split()[:6] == ["id", "kind", "subject", "prefix", "created", "last"]
    assert footer == "3 keys, times in Asia/Ho_Chi_Minh; last used: to the minute"
    by_id = {int(row.split()[0]): row for row in rows}
    assert by_id[wall_id].split()[1:4] == ["reader", "wall", prefix]
    assert by_id[wall_id].endswith("  active                           wall, meeting room 2")
    assert " revoked 20" in by_id[sxd_id]
    assert by_id[sxd_id].endswith("  -")  # no label
    assert key not in "\n".join(rows)  # the prefix only

    readers = ioc("list", "--kind", "reader").splitlines()[1:-1]
    assert [int(row.split()[0]) for row in readers] == [wall_id]
    units = ioc("list", "--unit", "sxd").splitlines()[1:-1]
    assert [int(row.split()[0]) for row in units] == [sxd_id]
    assert ioc("list", "--unit", "nobody").splitlines()[1:] == [
        "0 keys, times in Asia/Ho_Chi_Minh; last used: to the minute"
    ]
    stored = await db.fetchrow("SELECT prefix, label FROM api_keys WHERE id = $1", wall_id)
    assert (stored["prefix"], stored["label"]) == (prefix, "wall, meeting room 2")

    refused = run_ioc(env, "keys", "list", "--kind", "robot")
    assert refused.returncode == 2  # argparse's own usage error names the choices
    assert "invalid choice: 'robot'" in refused.stderr
    too_long = run_ioc(env, "keys", "issue", "--reader", "x", "--label", "y" * 201)
    assert too_long.returncode == 2
    assert "at most 200 characters" in too_long.stderr

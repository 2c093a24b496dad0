"""Connector definitions: every example loads, and each mistake is refused at load in one line
naming the file and the key, a secret resolved from the environment and never shown."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.feeds import FeedDefinition
from services.connectors.definitions import (
    ConnectorDefinitionError,
    connector_files,
    load_connector,
    load_connectors,
)
from services.connectors.paging import NextLink, PageNumber, SinglePage
from tests.conftest import SCHEMAS_DIR

ENV = {"IOC_LGSP_URL": "https://lgsp.example.vn", "IOC_LGSP_KEY": "bi-mat"}
GOOD: dict[str, Any] = {
    "feed": "hospital-beds",
    "url": "https://lgsp.example.vn/syt/giuong-benh",
    "records": "data.items",
    "next": "links.next",
    "headers": {"X-LGSP-Key": "${IOC_LGSP_KEY}"},
    "every": "15m",
}


def _write(folder: Path, body: Any, name: str = "syt.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def test_every_example_connector_loads(feeds: dict[str, FeedDefinition]) -> None:
    files = connector_files(SCHEMAS_DIR / "connectors")
    connectors = load_connectors(files, feeds, ENV)
    styles = {type(c.paging) for c in connectors}
    assert styles == {NextLink, PageNumber}  # one example per paging style
    assert all(c.headers == {"X-LGSP-Key": "bi-mat"} for c in connectors)
    assert all(c.url.startswith("https://lgsp.example.vn/") for c in connectors)


def test_a_definition_reads_as_written(feeds: dict[str, FeedDefinition], tmp_path: Path) -> None:
    connector = load_connector(
        _write(tmp_path, {**GOOD, "since": {"param": "tu", "field": "thoi_diem"}}), feeds, ENV
    )
    assert connector.name == "syt"
    assert connector.paging == NextLink("links.next")
    assert connector.every_s == 900
    assert connector.since is not None
    assert (connector.since.param, connector.since.field) == ("tu", "thoi_diem")
    assert connector.headers == {"X-LGSP-Key": "bi-mat"}
    assert "bi-mat" not in repr(connector)  # never in a log line


@pytest.mark.parametrize(
    ("every", "seconds"), [(90, 90), ("90", 90), ("45s", 45), ("15m", 900), ("1h", 3600)]
)
def test_every_is_seconds_or_a_period(
    feeds: dict[str, FeedDefinition], tmp_path: Path, every: Any, seconds: int
) -> None:
    assert load_connector(_write(tmp_path, {**GOOD, "every": every}), feeds, ENV).every_s == seconds


def test_no_paging_is_one_page_and_a_page_number_starts_where_it_says(
    feeds: dict[str, FeedDefinition], tmp_path: Path
) -> None:
    single = {k: v for k, v in GOOD.items() if k != "next"} | {"records": ""}
    assert load_connector(_write(tmp_path, single), feeds, ENV).paging == SinglePage()
    numbered = single | {"page": {"param": "trang", "start": 0}}
    assert load_connector(_write(tmp_path, numbered), feeds, ENV).paging == PageNumber("trang", 0)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"feed": "weather"}, "feed: unknown feed 'weather'"),
        ({"nxet": "links.next"}, "nxet: unknown key"),
        ({"url": "ftp://lgsp.example.vn/x"}, "url: 'ftp://lgsp.example.vn/x' is not an http"),
        ({"url": "https://u:p@lgsp.example.vn/x"}, "url: must hold no credentials"),
        ({"url": "${IOC_NOWHERE}/x"}, "url: names ${IOC_NOWHERE}, which is not set"),
        ({"records": "data[].items"}, "records: 'data[].items' is not a dotted path"),
        ({"records": 3}, "records: must be a dotted path"),
        ({"every": "15 minutes"}, "every: '15 minutes' is not a period"),
        ({"every": 0}, "every: must be more than 0 seconds"),
        ({"page": {"param": "trang"}}, "page: a connector pages by next link or by page number"),
        ({"headers": {"X-Key": "${IOC_MISSING_KEY}"}}, "headers.X-Key: names ${IOC_MISSING_KEY}"),
        ({"headers": {"X-Key": 12}}, "headers.X-Key: must be a string"),
        ({"params": {"key": "${IOC_LGSP_KEY}"}}, "params.key: URLs are logged"),
        ({"since": {"param": "tu"}}, "since: must be {param: <query parameter>, field:"),
        ({"since": {"param": "tu", "field": ""}}, "since.field: must be a dotted path, not empty"),
        ({"timeout": -1}, "timeout: must be a number of seconds"),
    ],
)
def test_a_mistake_is_one_line_naming_the_file_and_the_key(
    feeds: dict[str, FeedDefinition], tmp_path: Path, change: dict[str, Any], said: str
) -> None:
    path = _write(tmp_path, {**GOOD, **change})
    with pytest.raises(ConnectorDefinitionError) as refused:
        load_connector(path, feeds, ENV)
    message = str(refused.value)
    assert message.startswith(f"{path}: {said}"), message
    assert "\n" not in message
    assert "bi-mat" not in message


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("feed: [", "not YAML"),
        ("- a list", "(file): must be a mapping"),
        ("feed: hospital-beds", "url: missing"),
    ],
)
def test_a_file_that_is_no_definition_is_one_line(
    feeds: dict[str, FeedDefinition], tmp_path: Path, body: str, said: str
) -> None:
    path = tmp_path / "syt.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConnectorDefinitionError, match="^" + str(path) + ": " + re.escape(said)):
        load_connector(path, feeds, ENV)


def test_a_secret_may_come_from_a_file(feeds: dict[str, FeedDefinition], tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("tu-tep\n", encoding="utf-8")
    env = {"IOC_LGSP_KEY_FILE": str(secret)}
    assert load_connector(_write(tmp_path, GOOD), feeds, env).headers == {"X-LGSP-Key": "tu-tep"}


def test_two_files_of_one_name_are_refused(
    feeds: dict[str, FeedDefinition], tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = _write(tmp_path / "a", GOOD), _write(tmp_path / "b", GOOD)
    with pytest.raises(ConnectorDefinitionError, match="connector 'syt' is also"):
        load_connectors([first, second], feeds, ENV)

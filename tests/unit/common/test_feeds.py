from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from services.common.feeds import FeedDefinition, FeedDefinitionError, load_feed
from tests.conftest import read_examples

CONTRACT_FEEDS = {
    "salinity": "snnmt",
    "air-quality": "snnmt",
    "traffic": "sxd",
    "hospital-beds": "syt",
    "admin-dossiers": "tthcc",
    "citizen-feedback": "ttgsdh",
    "programme-tasks": "skhcn",
}


def test_every_contract_feed_is_defined_with_its_agency(feeds: dict[str, FeedDefinition]) -> None:
    assert {name: feed.agency for name, feed in feeds.items()} == CONTRACT_FEEDS


def test_schemas_are_valid_and_accept_every_example(feeds: dict[str, FeedDefinition]) -> None:
    for feed in feeds.values():
        Draft202012Validator.check_schema(feed.schema)
        validator = Draft202012Validator(feed.schema)
        for example in read_examples(feed.examples_path):
            assert not list(validator.iter_errors(example)), (feed.feed, example)


def test_a_malformed_definition_names_its_file(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "feed.yaml").write_text("feed: broken\nagency: x\n", encoding="utf-8")
    (folder / "schema.json").write_text("{}", encoding="utf-8")
    with pytest.raises(FeedDefinitionError, match=r"broken/feed.yaml"):
        load_feed(folder)

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from services.common.feeds import FeedDefinition, FeedDefinitionError, load_feed
from tests.conftest import SCHEMAS_DIR, read_examples

CONTRACT_FEEDS = {
    "salinity": "snnmt",
    "air-quality": "snnmt",
    "traffic": "sxd",
    "hospital-beds": "syt",
    "admin-dossiers": "tthcc",
    "citizen-feedback": "ttgsdh",
    "programme-tasks": "skhcn",
}


FOLDERS = sorted(path for path in (SCHEMAS_DIR / "feeds").iterdir() if path.is_dir())


def test_every_contract_feed_is_defined_with_its_agency(feeds: dict[str, FeedDefinition]) -> None:
    assert {name: feeds[name].agency for name in CONTRACT_FEEDS if name in feeds} == CONTRACT_FEEDS


def test_every_folder_is_a_feed(feeds: dict[str, FeedDefinition]) -> None:
    assert set(feeds) == {folder.name for folder in FOLDERS}


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_each_feed_folder_is_named_for_its_feed_and_its_schema_accepts_its_examples(
    folder: Path,
) -> None:
    feed = load_feed(folder)
    assert feed.feed == folder.name
    Draft202012Validator.check_schema(feed.schema)
    validator = Draft202012Validator(feed.schema)
    examples = read_examples(feed.examples_path)
    assert examples, f"{folder.name} has no examples"
    for example in examples:
        assert not list(validator.iter_errors(example)), (feed.feed, example)


def test_a_malformed_definition_names_its_file(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "feed.yaml").write_text("feed: broken\nagency: x\n", encoding="utf-8")
    (folder / "schema.json").write_text("{}", encoding="utf-8")
    with pytest.raises(FeedDefinitionError, match=r"broken/feed.yaml"):
        load_feed(folder)

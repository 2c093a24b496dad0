"""Query options parsed and checked without a database: counts, names, and their limits."""

from __future__ import annotations

import re

import pytest

from services.api.sta.entities import catalogue
from services.api.sta.filter import LARGEST_INTEGER, QueryError
from services.api.sta.request import MAX_NAMES, options
from services.common.feeds import load_feeds
from services.common.settings import REPO_ROOT

TYPES = catalogue(load_feeds(REPO_ROOT / "schemas"))
THINGS = TYPES["Things"]


def test_select_and_expand_name_each_once_in_the_order_first_given() -> None:
    asked = options(
        {"$select": "name,id,name,@iot.id", "$expand": "Datastreams,Locations,Datastreams"},
        THINGS,
        max_top=100,
    )
    assert asked.select == ("name", "id")
    assert asked.expand == ("Datastreams", "Locations")


@pytest.mark.parametrize("option", ["$select", "$orderby", "$expand"])
def test_more_distinct_names_than_the_limit_are_refused_naming_it(option: str) -> None:
    many = ",".join(f"name{n}" for n in range(MAX_NAMES + 1))
    with pytest.raises(QueryError, match=re.escape(f"more than {MAX_NAMES} distinct names")):
        options({option: many}, THINGS, max_top=100)


def test_repeating_a_name_does_not_count_against_the_limit() -> None:
    asked = options({"$select": ",".join(["name"] * (MAX_NAMES * 10))}, THINGS, max_top=100)
    assert asked.select == ("name",)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"$top": "²"}, "$top must be a whole number, not '²'"),
        ({"$skip": "٣"}, "$skip must be a whole number, not '٣'"),
        ({"$top": "9" * 5000}, f"$top is past {LARGEST_INTEGER}"),
        ({"$skip": str(LARGEST_INTEGER + 1)}, f"$skip is past {LARGEST_INTEGER}"),
    ],
)
def test_top_and_skip_are_ascii_whole_numbers_a_bigint_holds(
    query: dict[str, str], reason: str
) -> None:
    with pytest.raises(QueryError, match=re.escape(reason)):
        options(query, THINGS, max_top=100)


def test_top_is_at_most_the_page_and_skip_at_most_a_bigint() -> None:
    asked = options(
        {"$top": "0" * 5000 + "500", "$skip": str(LARGEST_INTEGER)}, THINGS, max_top=100
    )
    assert (asked.top, asked.skip) == (100, LARGEST_INTEGER)

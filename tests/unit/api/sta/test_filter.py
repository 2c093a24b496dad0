"""$filter parsing and building, without a database: precedence, literals, errors, and input
that never becomes SQL text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from services.api.sta.entities import EntityType, catalogue
from services.api.sta.filter import Call, Literal_, Operation, QueryError, condition, parse
from services.api.sta.filter import Path as FilterPath
from services.api.sta.repository import compiled
from services.common.feeds import load_feeds
from services.common.settings import REPO_ROOT

TYPES = catalogue(load_feeds(REPO_ROOT / "schemas"))


def test_and_binds_tighter_than_or_and_arithmetic_tighter_than_comparison() -> None:
    assert parse("a eq 1 or b add 2 gt 3 and not c") == Operation(
        "or",
        (
            Operation("eq", (FilterPath(("a",)), Literal_(1))),
            Operation(
                "and",
                (
                    Operation(
                        "gt", (Operation("add", (FilterPath(("b",)), Literal_(2))), Literal_(3))
                    ),
                    Operation("not", (FilterPath(("c",)),)),
                ),
            ),
        ),
    )


def test_literals_strings_numbers_times_and_paths() -> None:
    assert parse("name eq 'O''Brien'") == Operation(
        "eq", (FilterPath(("name",)), Literal_("O'Brien"))
    )
    assert parse("-2.5 lt x") == Operation(
        "lt", (Operation("neg", (Literal_(2.5),)), FilterPath(("x",)))
    )
    assert parse("t ge 2026-11-25T07:00:00+07:00") == Operation(
        "ge", (FilterPath(("t",)), Literal_(datetime(2026, 11, 25, 0, tzinfo=UTC)))
    )
    assert parse("startswith(Thing/properties/commune, '32')") == Call(
        "startswith", (FilterPath(("Thing", "properties", "commune")), Literal_("32"))
    )
    assert parse("x eq null and y eq true") == Operation(
        "and",
        (
            Operation("eq", (FilterPath(("x",)), Literal_(None))),
            Operation("eq", (FilterPath(("y",)), Literal_(True))),
        ),
    )


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("", "empty"),
        ("a eq", "ends where a value was expected"),
        ("(a eq 1", "expected ')'"),
        ("a eq 1 b", "unexpected 'b' at 7"),
        ("a eq #", "cannot read '#' at 5"),
    ],
)
def test_a_malformed_expression_says_what_and_where(expression: str, reason: str) -> None:
    with pytest.raises(QueryError, match=re.escape(reason)):
        parse(expression)


def _sql(expression: str, entity: EntityType) -> tuple[str, list[object]]:
    source = entity.source.alias()

    return compiled(
        select(source.c.id).where(condition(parse(expression), entity, source, TYPES.__getitem__))
    )


def test_text_from_the_request_is_a_bound_parameter_never_sql() -> None:
    hostile = "x'); DROP TABLE observations; --"
    sql, args = _sql(f"name eq '{hostile.replace(chr(39), chr(39) * 2)}'", TYPES["Things"])
    assert hostile in args
    assert "DROP TABLE" not in sql


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("name eq 1", "cannot compare a text with a number"),
        ("name add 1 eq 2", "add needs a number"),
        ("year(name) eq 1", "year needs a time"),
        ("name gt null", "null can only be compared with eq or ne"),
        ("properties eq 'x'", "properties is an object"),
        ("Datastreams/name eq 'x'", "lambda operators"),
        ("colour eq 'x'", "no property 'colour'"),
        ("st_within(location, 'x')", "geospatial function st_within is not supported"),
        ("name", "must be a condition"),
    ],
)
def test_an_expression_the_entity_cannot_answer_says_why(expression: str, reason: str) -> None:
    with pytest.raises(QueryError, match=re.escape(reason)):
        _sql(expression, TYPES["Things"])


def test_an_observations_result_is_a_number_or_a_text_by_what_it_is_compared_with() -> None:
    observations = TYPES["Observations"]
    number_sql, _ = _sql("result gt 3", observations)
    text_sql, _ = _sql("result eq 'done'", observations)
    assert "result_number >" in number_sql
    assert "result_text =" in text_sql


def test_a_path_through_a_single_related_entity_is_a_subquery() -> None:
    sql, args = _sql("Datastream/Thing/name eq 'Cống Cái Đôi Vàm'", TYPES["Observations"])
    assert sql.count("SELECT") > 3
    assert "Cống Cái Đôi Vàm" in args


def test_the_schemas_folder_is_where_the_catalogue_reads_feeds() -> None:
    assert Path(REPO_ROOT / "schemas").is_dir()
    assert set(TYPES) == {
        "Things",
        "Locations",
        "HistoricalLocations",
        "Datastreams",
        "Sensors",
        "ObservedProperties",
        "Observations",
        "FeaturesOfInterest",
    }

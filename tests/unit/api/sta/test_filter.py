"""$filter parsing and building, without a database: precedence, literals, errors, and input
that never becomes SQL text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from services.api.sta.entities import EntityType, catalogue
from services.api.sta.filter import (
    LARGEST_INTEGER,
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_TOKENS,
    Call,
    Literal_,
    Operation,
    QueryError,
    condition,
    conjuncts,
    may_fail,
    parse,
)
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


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("t gt 2024-13-45T00:00Z", "2024-13-45T00:00Z at 5 is not a time: month must be in 1..12"),
        ("t gt 2024-02-30T00:00:00Z", "at 5 is not a time: day is out of range for month"),
        pytest.param(
            f"id eq {'9' * 400}", f"the integer at 6 is past {LARGEST_INTEGER}", id="400 digits"
        ),
        (f"id eq {LARGEST_INTEGER + 1}", f"the integer at 6 is past {LARGEST_INTEGER}"),
        ("x lt 1e999", "the number at 5 is past a float's range"),
    ],
)
def test_a_literal_out_of_range_says_so(expression: str, reason: str) -> None:
    with pytest.raises(QueryError, match=re.escape(reason)):
        parse(expression)


def test_an_integer_is_read_exactly_up_to_a_bigint() -> None:
    # 2**53 + 1: a float would read 9007199254740992, another observation's id.
    assert parse("id eq 9007199254740993") == Operation(
        "eq", (FilterPath(("id",)), Literal_(9007199254740993))
    )
    assert parse(f"id eq {LARGEST_INTEGER}") == Operation(
        "eq", (FilterPath(("id",)), Literal_(LARGEST_INTEGER))
    )


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("Datastreams/any(d: d/name eq 'x')", "lambda operators (any, all) are not supported"),
        ("Datastreams/all(d: d/id gt 1)", "lambda operators (any, all) are not supported"),
        (
            "geo.distance(location, geography'POINT(1 2)') lt 1",
            "the geospatial function geo.distance is not supported",
        ),
        ("location eq geography'POINT(1 2)'", "geospatial literals are not supported (at 12)"),
    ],
)
def test_what_is_not_supported_says_so_rather_than_failing_to_parse(
    expression: str, reason: str
) -> None:
    with pytest.raises(QueryError, match=re.escape(reason)):
        parse(expression)


# Well-formed beyond each limit: only the limit refuses them.
_TOO_DEEP = f"$filter nests more than {MAX_DEPTH} deep"


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        pytest.param(
            f"name eq '{'x' * MAX_FILTER_LENGTH}'",
            f"longer than {MAX_FILTER_LENGTH} characters",
            id="length",
        ),
        pytest.param(
            f"concat(x{',x' * MAX_TOKENS}) eq 'x'", f"more than {MAX_TOKENS} tokens", id="tokens"
        ),
        pytest.param("(" * (MAX_DEPTH + 1) + "id eq 1" + ")" * (MAX_DEPTH + 1), _TOO_DEEP, id="()"),
        pytest.param("not " * (MAX_DEPTH + 1) + "id eq 1", _TOO_DEEP, id="not"),
        pytest.param("id eq " + "-" * (MAX_DEPTH + 1) + "1", _TOO_DEEP, id="-"),
        pytest.param(
            "length(" * (MAX_DEPTH + 1) + "name" + ")" * (MAX_DEPTH + 1) + " eq 1",
            _TOO_DEEP,
            id="arguments",
        ),
        pytest.param("id eq 1" + " add 1" * MAX_DEPTH, _TOO_DEEP, id="add"),
        pytest.param(
            "properties/" + "/".join(["a"] * MAX_DEPTH) + " eq 'x'", _TOO_DEEP, id="members"
        ),
    ],
)
def test_a_filter_past_a_limit_is_refused_naming_it(expression: str, reason: str) -> None:
    with pytest.raises(QueryError, match=re.escape(reason)):
        parse(expression)


def test_a_filter_at_the_depth_limit_is_answered() -> None:
    deepest = "(" * MAX_DEPTH + "id eq 1" + ")" * MAX_DEPTH
    assert parse(deepest) == Operation("eq", (FilterPath(("id",)), Literal_(1)))


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


def test_500_or_clauses_are_one_flat_condition_that_compiles() -> None:
    """10 KB of ``or``: a tree 500 deep was a RecursionError (a 500) in the builder."""
    expression = " or ".join(f"name eq 'Cống số {n}'" for n in range(500))
    assert len(expression) > 10_000
    sql, args = _sql(expression, TYPES["Things"])
    assert sql.count(" OR ") == 499
    assert "Cống số 499" in args
    things = TYPES["Things"]
    source = things.source.alias()
    parsed = parse(expression)
    where = condition(parsed, things, source, TYPES.__getitem__)
    assert str(select(source.c.id).where(where).compile()).count(" OR ") == 499
    assert isinstance(parsed, Operation)
    assert len(parsed.operands) == 500


def test_mod_by_zero_is_null_as_div_is_not_a_database_error() -> None:
    sql, _ = _sql("id mod 0 eq 1", TYPES["Things"])
    assert "mod(CAST(things_1.id AS NUMERIC), nullif(CAST(" in sql


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


@pytest.mark.parametrize(
    ("expression", "fails"),
    [
        ("result gt 3", False),
        ("name eq 'x' or not (id lt 4)", False),
        ("Datastream/id eq 5", False),
        ("result sub 1 gt 3", True),
        ("1 mod result eq 0", True),
        ("-result lt 0", True),
        ("length(name) eq 3", True),
        ("name eq 'x' or substring(name, 0, id) eq 'y'", True),
    ],
)
def test_a_condition_that_computes_or_calls_may_fail_and_a_comparison_may_not(
    expression: str, fails: bool
) -> None:
    assert may_fail(parse(expression)) is fails


def test_a_filters_top_level_and_is_split_into_its_conditions() -> None:
    assert len(conjuncts(parse("a eq 1 and b eq 2 and c sub 1 eq 3"))) == 3
    assert len(conjuncts(parse("a eq 1 or b eq 2"))) == 1

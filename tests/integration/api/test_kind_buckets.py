"""Every indicator kind's value of one time bucket, its SQL (``bucket_sql``) run by PostgreSQL
over the aggregates a series reads: a bucket with readings, one without, one whose denominator
sums to zero, one with a denominator and no readings of the metric."""

from __future__ import annotations

from typing import Any

import pytest

from services.api.indicators.kinds import KINDS

pytestmark = pytest.mark.integration

# Three readings 4, 7 and 10 of the metric (sum 21), and a denominator summing 42.
BUCKET = (3, 21.0, 4.0, 10.0, 42.0)
EMPTY = (0, None, None, None, None)
NO_DENOMINATOR = (3, 21.0, 4.0, 10.0, 0.0)
NO_NUMERATOR = (0, None, None, None, 42.0)  # a ratio's bucket: none of 42 is 0 %

# kind: its value of BUCKET, of NO_DENOMINATOR, of NO_NUMERATOR (None: no series, or no value)
EXPECTED: dict[str, tuple[float | None, float | None, float | None]] = {
    "state_share": (None, None, None),  # counts of latest states are of now: no series
    "state_count": (None, None, None),
    "overdue_tasks": (None, None, None),  # tasks as they stand today: no series
    "ratio_of_sums": (50.0, None, 0.0),
    "latest_ratio": (50.0, None, 0.0),
    "latest_max": (10.0, 10.0, None),
    "window_max": (10.0, 10.0, None),
    "window_min": (4.0, 4.0, None),
    "window_sum": (21.0, 21.0, None),
    "window_count": (3.0, 3.0, None),
    "window_avg": (7.0, 7.0, None),
}

VALUE = """
SELECT {value} FROM (VALUES ($1::integer, $2::float8, $3::float8, $4::float8, $5::float8))
    AS bucket (n, total, minimum, maximum, other)
"""


def test_every_kind_of_the_registry_is_covered_here() -> None:
    assert set(EXPECTED) == set(KINDS)


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_each_kind_reads_its_own_aggregates_of_a_bucket(name: str, db: Any) -> None:
    sql, (expected, without_denominator, without_numerator) = KINDS[name].bucket_sql, EXPECTED[name]
    if sql is None:
        assert expected is None
        assert not KINDS[name].has_series
        return
    value = VALUE.format(value=sql)
    assert await db.fetchval(value, *BUCKET) == expected
    assert await db.fetchval(value, *NO_DENOMINATOR) == without_denominator
    assert await db.fetchval(value, *NO_NUMERATOR) == without_numerator
    assert await db.fetchval(value, *EMPTY) is None

"""What every indicator kind is: the parts of its current value read from the store, how the
parts combine into the province's value, a part's value, and one time bucket's value (in SQL:
a month at 5 minutes is 8,640 buckets, and the value computed by PostgreSQL with the rows'
other columns left unsent saved about 4 ms of such a series, measured)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.api.indicators.definitions import IndicatorDefinition


@dataclass(frozen=True, slots=True)
class Part:
    """One group's sums: the whole province (part None) or one commune/ward."""

    part: str | None
    a: float | None  # hits, numerator, max, min, sum or mean, by kind
    b: float | None  # total, denominator or count, where the kind has one
    as_of: datetime | None


class IndicatorKind(ABC):
    """One kind of indicator, all of its behaviour in one object (STYLE 15)."""

    name: str
    needs: tuple[str, ...]  # the definition fields the kind reads
    # One time bucket's value, an SQL expression over the bucket's count, sum, minimum and
    # maximum of the metric (``n``, ``total``, ``minimum``, ``maximum``) and the denominator's
    # sum (``other``), NULL where there is none; None: the kind has no history in time buckets.
    bucket_sql: str | None

    @property
    def has_series(self) -> bool:
        return self.bucket_sql is not None

    @abstractmethod
    async def parts(self, connection: Any, d: IndicatorDefinition, now: datetime) -> list[Part]:
        """The current value's parts, one per breakdown group (a single None group without)."""

    @abstractmethod
    def combine(self, parts: list[Part]) -> Part:
        """The province's part from the groups' parts."""

    @abstractmethod
    def value(self, part: Part) -> float | None:
        """The value shown for one part, rounded for display; None when there is none."""


def parts_of(rows: list[Any]) -> list[Part]:
    return [Part(r["part"], r["a"], r["b"], r["as_of"]) for r in rows]


def newest_as_of(parts: list[Part]) -> datetime | None:
    return max((p.as_of for p in parts if p.as_of is not None), default=None)


def summed(parts: list[Part]) -> Part:
    """Parts whose ``a`` and ``b`` add up across groups: counts, sums, numerators."""
    a = sum(p.a or 0 for p in parts)
    return Part(None, a, sum(p.b or 0 for p in parts), newest_as_of(parts))


def extreme(pick: Callable[[list[float]], float]) -> Callable[[list[Part]], Part]:
    """Combining by the highest (``max``) or lowest (``min``) of the groups' values."""

    def combine(parts: list[Part]) -> Part:
        known = [p.a for p in parts if p.a is not None]
        return Part(None, pick(known) if known else None, None, newest_as_of(parts))

    return combine


def percentage(a: float | None, b: float | None) -> float | None:
    return 100 * (a or 0) / b if b else None


PERCENTAGE_SQL = "100 * coalesce({a}, 0) / nullif({b}, 0)"  # percentage(), as a bucket's SQL


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)

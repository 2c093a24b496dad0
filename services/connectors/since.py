"""The high-water mark of an incremental pull: the newest value of the record field ``since``
follows, sent back to the API as given (its own format) on the next pull. Pure.

Newest means: by event time when the field is the feed's own time field (read as the feed's
definition reads it, whatever its format or zone); otherwise numbers by value and text by its
characters (an ISO-8601 UTC time, a sequence number). A record whose field is missing, or of
another kind than the mark, leaves the mark where it is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.common.intake.normalise import Normaliser
from services.common.paths import holding, value_at


def order_for(field: str, normaliser: Normaliser) -> Callable[[Any], tuple[int, Any] | None]:
    """How records compare on ``field``: a key to sort by, None where a record has none."""
    if field == normaliser.definition.time.field:

        def by_event_time(record: Any) -> tuple[int, Any] | None:
            when: datetime | None = normaliser.event_time_of(record)
            return None if when is None else (0, when)

        return by_event_time

    def by_value(record: Any) -> tuple[int, Any] | None:
        return _value_key(value_at(record, field))

    return by_value


def _value_key(value: Any) -> tuple[int, Any] | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str) and value:
        return (2, value)
    return None


class HighWater:
    """The newest ``field`` value seen, starting from the stored mark (None: no mark yet)."""

    def __init__(
        self, field: str, order: Callable[[Any], tuple[int, Any] | None], mark: Any
    ) -> None:
        self.field = field
        self.order = order
        self.mark = mark
        self._key = None if mark is None else order(holding(field, mark))

    def see(self, record: Any) -> None:
        key = self.order(record)
        if key is None:
            return
        if self._key is not None and (key[0] != self._key[0] or key <= self._key):
            return
        self._key, self.mark = key, value_at(record, self.field)


def as_param(mark: Any) -> str:
    """The mark as the query parameter's value."""
    return str(mark)

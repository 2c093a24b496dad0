"""The faults of real life that the simulator plays now and then, so the wall shows every state:
a feed going quiet (late, then stale), a sensor that reports no reading ("N/A"), and a daily
feed re-sending yesterday's figures corrected. Pure: the random source is given."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from services.common.feeds import FeedDefinition
from services.common.paths import value_at, with_value_at

DAILY_S = 86_400


@dataclass(frozen=True, slots=True)
class FaultRates:
    quiet: float = 0.02  # per slot: the feed sends nothing for 1 to 3 slots
    no_reading: float = 0.05  # per message and metric that has a "no reading" token
    correction: float = 0.2  # per slot of a daily feed: yesterday's figures, corrected

    @classmethod
    def none(cls) -> FaultRates:
        return cls(quiet=0.0, no_reading=0.0, correction=0.0)


class Faults:
    def __init__(self, rates: FaultRates, rng: random.Random) -> None:
        self.rates = rates
        self.rng = rng

    def quiet_slots(self) -> int:
        """How many slots the feed stays quiet from now (0: it sends as usual)."""
        return self.rng.randint(1, 3) if self.rng.random() < self.rates.quiet else 0

    def with_no_reading(self, message: dict[str, Any], feed: FeedDefinition) -> dict[str, Any]:
        """The message with, now and then, a metric replaced by its "no reading" token."""
        changed = message
        for metric in feed.metrics:
            if metric.no_reading and self.rng.random() < self.rates.no_reading:
                changed = with_value_at(changed, metric.field, metric.no_reading[0])
        return changed

    def correction(self, message: dict[str, Any], feed: FeedDefinition) -> dict[str, Any] | None:
        """For a daily feed, now and then: the same figures with the first count raised by one
        (a dossier registered late), to be re-sent for the previous day; else None."""
        if feed.cadence_seconds < DAILY_S or self.rng.random() >= self.rates.correction:
            return None
        for metric in feed.metrics:
            value = value_at(message, metric.field)
            if isinstance(value, int) and not isinstance(value, bool):
                return with_value_at(message, metric.field, value + 1)
        return None

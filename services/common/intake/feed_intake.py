"""A feed's intake: a department message normalised, then admitted within the feed's event-time
bounds. The worker and the HTTP push check every message through this one path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.common.canonical import Normalised, Rejection
from services.common.feeds import FeedDefinition
from services.common.intake.admit import admit
from services.common.intake.decode import decode
from services.common.intake.normalise import Normaliser


@dataclass(frozen=True, slots=True)
class FeedIntake:
    feed: str
    normalise: Normaliser
    backfill: timedelta

    @classmethod
    def of(cls, definition: FeedDefinition) -> FeedIntake:
        return cls(
            definition.feed, Normaliser(definition), timedelta(days=definition.backfill_days)
        )

    def key_of(self, raw: bytes | None) -> bytes | None:
        """The Kafka key of a raw record: its entity, where one can be read."""
        entity = self.normalise.entity_of(decode(raw))
        return None if entity is None else entity.encode()

    def check_record(
        self, value: bytes | None, *, now: datetime, future_bound: timedelta
    ) -> Normalised | Rejection:
        """A Kafka record's value, decoded and checked: by the feed's typed decoder where it
        takes the record, else decoded by ``decode`` and checked as a message."""
        outcome = self.normalise.from_bytes(value)
        if outcome is None:
            decoded = decode(value)
            if isinstance(decoded, Rejection):
                return decoded
            return self.check(decoded, now=now, future_bound=future_bound)
        if isinstance(outcome, Rejection):
            return outcome
        return admit(outcome, now=now, future_bound=future_bound, backfill=self.backfill)

    def check(
        self, message: object, *, now: datetime, future_bound: timedelta
    ) -> Normalised | Rejection:
        outcome = self.normalise(message)
        if isinstance(outcome, Rejection):
            return outcome
        return admit(outcome, now=now, future_bound=future_bound, backfill=self.backfill)

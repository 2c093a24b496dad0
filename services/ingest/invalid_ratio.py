"""The invalid-ratio limit: a feed whose recent records are (almost) all invalid is halted, so a
department that breaks its format fills the quarantine once, not forever, and says so loudly.

Only that feed stops; the others flow on. A halted feed resumes when the worker restarts (after
the department's or the mapping's fix), and its records wait in Kafka meanwhile.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class InvalidRatioLimit:
    limit: float  # halt when the invalid share of the window reaches this (0 < limit <= 1)
    window: int  # over this many of the feed's most recent records
    _recent: dict[str, deque[bool]] = field(default_factory=dict)
    halted: set[str] = field(default_factory=set)

    def record(self, feed: str, invalid: bool) -> bool:
        """Counts one record; True when this record makes the feed cross the limit."""
        recent = self._recent.setdefault(feed, deque(maxlen=self.window))
        recent.append(invalid)
        if feed in self.halted or len(recent) < self.window:
            return False
        if sum(recent) / len(recent) >= self.limit:
            self.halted.add(feed)
            return True
        return False

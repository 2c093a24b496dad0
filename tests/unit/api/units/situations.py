"""A situation made by hand, for the pure tests of the scorecards and of the reminders' causes
that judge it: the example schemas' feeds and units, at 18:00 in Cà Mau on the 27th."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.api.units.situation import Situation
from services.common.feeds import load_feeds
from services.common.units import load_units
from tests.conftest import SCHEMAS_DIR

FEEDS = load_feeds(SCHEMAS_DIR)
UNITS = load_units(SCHEMAS_DIR, FEEDS)
DOSSIERS = "admin-dossiers"
NOW = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # 18:00 local: the 27th is due


def situation(**changes: Any) -> Situation:
    fields: dict[str, Any] = {
        "now": NOW,
        "feeds": FEEDS,
        "units": UNITS,
        "quality": {},
        "received": {},
        "newest": {},
        "newest_by_entity": {DOSSIERS: {}},
        "tasks": (),
        "history": {},
    }
    return Situation(**{**fields, **changes})


def local_day(day: int) -> datetime:
    return datetime(2026, 11, day, tzinfo=UTC) - timedelta(hours=7)  # that day's local midnight

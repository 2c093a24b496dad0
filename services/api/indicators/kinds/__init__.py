"""The registry of indicator kinds: a definition's ``kind`` names one of these. A new kind is a
module here and one line below; ``tests/unit/api/indicators/test_kinds.py`` runs over all."""

from __future__ import annotations

from services.api.indicators.kinds.base import IndicatorKind, Part
from services.api.indicators.kinds.latest_max import LATEST_MAX_KIND
from services.api.indicators.kinds.latest_states import STATE_COUNT, STATE_SHARE
from services.api.indicators.kinds.overdue_tasks import OVERDUE_TASKS
from services.api.indicators.kinds.ratios import LATEST_RATIO_KIND, RATIO_OF_SUMS
from services.api.indicators.kinds.window_aggregate import (
    WINDOW_AVG,
    WINDOW_COUNT,
    WINDOW_MAX,
    WINDOW_MIN,
    WINDOW_SUM,
)

KINDS: dict[str, IndicatorKind] = {
    kind.name: kind
    for kind in (
        STATE_SHARE,
        STATE_COUNT,
        OVERDUE_TASKS,
        RATIO_OF_SUMS,
        LATEST_RATIO_KIND,
        LATEST_MAX_KIND,
        WINDOW_AVG,
        WINDOW_SUM,
        WINDOW_MIN,
        WINDOW_MAX,
        WINDOW_COUNT,
    )
}

__all__ = ["KINDS", "IndicatorKind", "Part"]

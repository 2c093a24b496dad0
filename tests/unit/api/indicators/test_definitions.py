from __future__ import annotations

from pathlib import Path

import pytest

from services.api.indicators.definitions import IndicatorDefinitionError, load_indicators
from services.common.feeds import FeedDefinition
from tests.conftest import SCHEMAS_DIR

REQUIRED = {
    "programme.completion_rate",
    "programme.completion_rate_2025",
    "programme.overdue_tasks",
    "dossiers.on_time_rate_30d",
    "feedback.open_reports",
    "hospital.bed_occupancy",
    "salinity.max_ppt",
    "air.pm25_avg_1h",
    "traffic.vehicles_15m",
}


def test_every_required_indicator_is_defined(feeds: dict[str, FeedDefinition]) -> None:
    indicators = load_indicators(SCHEMAS_DIR, feeds)
    assert set(indicators) >= REQUIRED
    assert all({"vi", "en"} <= set(i.title) for i in indicators.values())


def test_an_indicator_on_an_unknown_metric_names_its_file(
    tmp_path: Path, feeds: dict[str, FeedDefinition]
) -> None:
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "x.bad.yaml").write_text(
        "id: x.bad\ntitle: {vi: x}\nfeed: salinity\nkind: latest_max\nmetric: nope\n",
        encoding="utf-8",
    )
    with pytest.raises(IndicatorDefinitionError, match=r"x.bad.yaml.*not a metric of salinity"):
        load_indicators(tmp_path, feeds)

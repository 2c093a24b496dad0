"""docs/how-to.md's recipes, followed on a copy of schemas/: a feed added as a folder, a unit as
a file and an indicator as a file load with the rest, and the new feed's examples give their
expected rows; nothing else had to change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from services.api.indicators.definitions import load_indicators
from services.common.feeds import load_feeds
from services.common.intake.normalise import Normaliser
from services.common.units import load_units
from services.ingest.expected import canonical_form
from tests.conftest import SCHEMAS_DIR

NEW_UNIT = """code: dvdl
kind: department
name: Đài Khí tượng Thủy văn
name_en: Hydro-Meteorological Station
aliases: [Đài KTTV]
contacts:
  email: [vanphong.kttv@camau.gov.vn]
escalate_to: vpubnd
"""
NEW_INDICATOR = """id: water.salinity_max_copy
title: {vi: Độ mặn cao nhất (đài), en: Highest salinity (station)}
unit: "‰"
feed: salinity-dvdl
kind: latest_max
metric: salinity_ppt
thresholds: {better: lower, warning: 4, critical: 8}
"""


def test_a_feed_a_unit_and_an_indicator_added_as_the_how_to_says(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, schemas)
    # A feed: the nearest feed's folder, copied and renamed, owned by a new unit.
    folder = schemas / "feeds" / "salinity-dvdl"
    shutil.copytree(schemas / "feeds" / "salinity", folder)
    definition = (folder / "feed.yaml").read_text(encoding="utf-8")
    definition = definition.replace("feed: salinity\n", "feed: salinity-dvdl\n")
    definition = definition.replace("agency: snnmt\n", "agency: dvdl\n")
    (folder / "feed.yaml").write_text(definition, encoding="utf-8")
    (schemas / "units" / "dvdl.yaml").write_text(NEW_UNIT, encoding="utf-8")
    (schemas / "indicators" / "water.salinity_max_copy.yaml").write_text(
        NEW_INDICATOR, encoding="utf-8"
    )

    feeds = load_feeds(schemas)
    assert feeds["salinity-dvdl"].agency == "dvdl"
    assert load_units(schemas, feeds).by_code["dvdl"].escalate_to == "vpubnd"
    assert load_indicators(schemas, feeds)["water.salinity_max_copy"].feed == "salinity-dvdl"
    normalise = Normaliser(feeds["salinity-dvdl"])
    examples = (folder / "examples.ndjson").read_text(encoding="utf-8").splitlines()
    expected = (folder / "expected.ndjson").read_text(encoding="utf-8").splitlines()
    for message, canonical in zip(examples, expected, strict=True):
        row = canonical_form(normalise(json.loads(message)))
        assert row == json.loads(canonical.replace('"salinity"', '"salinity-dvdl"'))

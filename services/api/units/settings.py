"""The scorecards' settings: whether this process keeps them, and how often. Apart from the
reminders' (``IOC_REMINDERS=0`` leaves reminders out, never the scores /v1/units serves)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from services.common.settings import env_float


@dataclass(frozen=True, slots=True)
class ScorecardSettings:
    enabled: bool  # score the units in this process (the API's)
    every_s: float  # how often; the reminders' evaluation scores too, as it needs them fresh

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ScorecardSettings:
        return cls(
            enabled=env.get("IOC_SCORECARDS", "1") != "0",
            every_s=env_float(env, "IOC_SCORECARDS_EVERY_S", 300.0),
        )

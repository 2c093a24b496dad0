from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

SCORE = "Between 0 and 1; null where nothing can be said"


class Scores(BaseModel):
    correct: float | None = Field(None, description=f"đúng. {SCORE}")
    sufficient: float | None = Field(None, description=f"đủ. {SCORE}")
    clean: float | None = Field(None, description=f"sạch. {SCORE}")
    live: float | None = Field(None, description=f"sống. {SCORE}")
    timeliness: float | None = Field(
        None, description=f"Share of the unit's feeds (or own figures) on time. {SCORE}"
    )
    quarantine_ratio: float | None = Field(None, description="Quarantined over received records")
    completion_rate: float | None = Field(None, description="Programme tasks done over led")
    score: float | None = Field(None, description="The mean of the scores above it has")


class WindowScores(Scores):
    days_scored: int = Field(description="Days of the window with a scorecard")
    days_on_time: int = Field(description="Days on which every obligation was on time")


class DayScorecard(Scores):
    day: date
    tasks_assigned: int = 0
    tasks_done: int = 0
    tasks_overdue: int = Field(0, description="Reported overdue, or past due and not done")
    tasks_due_soon: int = Field(0, description="Due within 14 days and not done")
    lagging: list[dict[str, Any]] = Field(
        default_factory=list,
        description="What lags and by how much: days_behind, late_by_s or never_sent",
    )


class UnitContacts(BaseModel):
    email: list[str]
    webhook: str | None


class UnitOut(BaseModel):
    code: str
    kind: str
    name: str
    name_en: str
    contacts: UnitContacts | None = Field(
        None, description="Where its reminders go: shown to an operator's key and the unit's own"
    )
    today: DayScorecard | None = Field(
        description="Today (the province's day) so far: each score is its mean over the day's "
        "time up to the last evaluation; task counts as of that evaluation"
    )
    over_7_days: WindowScores
    over_30_days: WindowScores
    open_reminders: int


class UnitList(BaseModel):
    as_of: datetime
    units: list[UnitOut]


class UnitDetail(UnitOut):
    history: list[DayScorecard] = Field(description="The last 30 days, oldest first")


class RankedUnit(BaseModel):
    rank: int = Field(description="Within its kind, from 1")
    unit: str
    kind: str = Field(description="department or commune: ranked among its kind")
    name: str
    name_en: str
    score: float
    movement: int | None = Field(
        description="Places gained within its kind since a week before; null: unranked"
    )


class Ranking(BaseModel):
    as_of: datetime
    window_days: int
    units: list[RankedUnit] = Field(description="Departments, then communes/wards; best first")
    leaders: list[RankedUnit] = Field(description="The three best of each kind")
    laggards: list[RankedUnit] = Field(
        description="The three weakest of each kind (not among its leaders), weakest first"
    )

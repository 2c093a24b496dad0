from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.api.feeds.status import FeedStatus

SCORE = "Between 0 and 1; null where nothing can be said yet"


class FeedQuality(BaseModel):
    feed: str
    status: FeedStatus
    correct: float | None = Field(description=f"đúng: valid share of records. {SCORE}")
    sufficient: float | None = Field(
        description=f"đủ: records held against expected (periodic feeds). {SCORE}"
    )
    clean: float | None = Field(
        description=f"sạch: share neither quarantined nor repeated. {SCORE}"
    )
    live: float = Field(description="sống: 1 live, 0.5 late, 0 stale or silent")


class AgencyQuality(BaseModel):
    agency: str
    correct: float | None
    sufficient: float | None
    clean: float | None
    live: float | None
    lagging: list[str] = Field(description="The agency's feeds that are late, stale or silent")
    feeds: list[FeedQuality]


class UnknownUnit(BaseModel):
    feed: str
    entity: str
    named: str = Field(description="The name the record gives, which no unit file knows")


class QualityReport(BaseModel):
    window_s: int = Field(description="The window the scores look back over")
    as_of: datetime
    agencies: list[AgencyQuality]
    unknown_units: list[UnknownUnit] = Field(
        default_factory=list,
        description="Records that name a unit no file of schemas/units/ knows (a task's lead "
        "unit): kept and shown here, to fix the name or add the unit",
    )

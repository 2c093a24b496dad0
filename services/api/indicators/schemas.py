from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.api.indicators.status import Status


class BreakdownItem(BaseModel):
    code: str = Field(description="Commune/ward code")
    value: float


class IndicatorOut(BaseModel):
    id: str
    title: str
    value: float | None
    unit: str
    status: Status
    as_of: datetime | None = Field(description="Event time of the newest data used")
    updated_at: datetime | None = Field(
        description="When the data behind this value last changed in the store"
    )
    breakdown: list[BreakdownItem] | None = Field(
        description="By commune/ward, where the indicator has one"
    )


class IndicatorList(BaseModel):
    indicators: list[IndicatorOut]


class SeriesPoint(BaseModel):
    ts: datetime = Field(description="The bucket's start")
    value: float


class SeriesOut(BaseModel):
    id: str
    unit: str
    interval_s: int
    points: list[SeriesPoint]

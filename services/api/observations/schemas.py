from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ObservationOut(BaseModel):
    entity: str
    metric: str
    ts: datetime = Field(description="Event time, ISO-8601 with offset (UTC)")
    value: float | str
    unit: str


class ObservationPage(BaseModel):
    feed: str
    observations: list[ObservationOut]
    truncated: bool = Field(description="True when more rows matched than one page holds")

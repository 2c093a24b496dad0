from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.api.observations.paging import Order


class ObservationOut(BaseModel):
    entity: str
    metric: str
    ts: datetime = Field(description="Event time, ISO-8601 with offset (UTC)")
    value: float | str
    unit: str


class ObservationPage(BaseModel):
    feed: str
    order: Order = Field(description="desc: newest first (the default); asc: oldest first")
    observations: list[ObservationOut]
    truncated: bool = Field(description="True when more rows matched than this page holds")
    next_cursor: str | None = Field(
        description="Where the next page starts (pass as `cursor` with the same query); null on "
        "the last page"
    )
    next: str | None = Field(description="The next page's address (this query and its cursor)")

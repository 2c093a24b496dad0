from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.api.feeds.status import FeedStatus


class FeedOut(BaseModel):
    feed: str
    agency: str
    title: str
    last_event: datetime | None = Field(description="Event time of the feed's newest data")
    expected_interval_s: int = Field(description="How often the department should report")
    status: FeedStatus


class FeedList(BaseModel):
    feeds: list[FeedOut]

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class RejectionOut(BaseModel):
    id: int
    topic: str
    partition: int
    offset: int
    reason: str = Field(description="Why the record could not be ingested")
    raw: str = Field(description="The record's original bytes, as text or base64")
    raw_encoding: Literal["utf-8", "base64"]
    rejected_at: datetime


class RejectionPage(BaseModel):
    feed: str
    rejections: list[RejectionOut] = Field(description="Newest first")
    next_before: int | None = Field(description="Pass as `before` for the next, older page")

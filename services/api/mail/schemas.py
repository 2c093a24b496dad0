from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class KeptMessage(BaseModel):
    name: str = Field(description="The file's name: GET /v1/mail/{name} gives it whole")
    received_at: datetime
    to: str
    subject: str


class MailList(BaseModel):
    messages: list[KeptMessage] = Field(description="Newest first")

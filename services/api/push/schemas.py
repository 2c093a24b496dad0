from __future__ import annotations

from pydantic import BaseModel, Field


class MessageError(BaseModel):
    """A pushed message refused, and why; the others of its push are accepted."""

    index: int = Field(description="Position of the message in the array, or its line (from 0)")
    error: str


class PushResult(BaseModel):
    accepted: int = Field(description="Messages the broker has acknowledged")
    rejected: list[MessageError]

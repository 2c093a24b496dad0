from __future__ import annotations

from pydantic import BaseModel, Field

LISTED_REJECTIONS = 100  # an answer lists the first refused messages, and counts them all


class MessageError(BaseModel):
    """A pushed message refused, and why; the others of its push are accepted."""

    index: int = Field(description="Position of the message in the array, or its line (from 0)")
    error: str


class PushResult(BaseModel):
    accepted: int = Field(description="Messages the broker has acknowledged")
    rejected: list[MessageError] = Field(
        description=f"The first {LISTED_REJECTIONS} messages refused, in the body's order"
    )
    rejected_count: int = Field(description="Every message refused, listed or not")

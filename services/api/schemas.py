"""Shapes shared by every feature: the one error body, documented on every route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    """Every error the API answers, from 400 to 503."""

    model_config = ConfigDict(extra="allow")  # e.g. a push's "rejected" list

    error: str = Field(description="A stable code, e.g. unauthorized, not_found")
    detail: str = Field(description="What went wrong, in words for the caller's developer")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}

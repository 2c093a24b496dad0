from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

LISTED = 1000  # a receipt lists the first rejected rows and ignored parts, and counts them all


class RowRejection(BaseModel):
    """A row refused, and why: a cell's problem (in the caller's language), or the intake's
    own reason (the push's, in English)."""

    sheet: str
    row: int | None = Field(description="As the spreadsheet numbers it (the first row is 1)")
    column: str | None = Field(description="Its letters (A, B, …), where one cell is at fault")
    error: str


class IgnoredPart(BaseModel):
    """A row or column set aside (titles, a row number column, notes, a total row, signatures),
    and why; a whole sheet with neither row nor column."""

    sheet: str
    row: int | None
    column: str | None
    reason: str


class UploadReceipt(BaseModel):
    upload: int = Field(description="The upload's id: the first upload's for a file sent again")
    file: str | None = Field(description="The file's name as sent")
    sha256: str
    rows: int = Field(description="Data rows read: accepted and rejected")
    accepted: int = Field(description="Rows valid and held by the broker or produced before")
    produced: int = Field(description="Rows this upload sent to the feed's topic")
    unchanged: int = Field(
        description="Accepted rows identical to the row an earlier upload produced for the same "
        "entity and time: not sent again"
    )
    rejected: list[RowRejection] = Field(description=f"The first {LISTED} problems, in order")
    rejected_count: int
    ignored: list[IgnoredPart] = Field(description=f"The first {LISTED} parts set aside")
    ignored_count: int


class UploadEntry(BaseModel):
    upload: int
    file: str | None
    size: int = Field(description="Bytes")
    sha256: str
    received_at: datetime
    key_id: int = Field(description="The id of the key that uploaded it")
    file_kept: bool = Field(description="Whether the file is still kept (IOC_UPLOAD_KEPT_DAYS)")
    receipt: UploadReceipt


class UploadList(BaseModel):
    feed: str
    unit: str
    uploads: list[UploadEntry] = Field(description="Newest first")

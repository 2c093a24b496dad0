"""``POST /v1/feeds/{feed}/uploads``: a unit uploads its spreadsheet report (xlsx, xls, csv);
``GET`` lists its uploads with their receipts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status

from services.api.access import require_push
from services.api.dependencies import Caller, Feed, State
from services.api.schemas import ErrorBody
from services.api.uploads import repository
from services.api.uploads.body import ENVELOPE_BYTES, read_file, too_large
from services.api.uploads.schemas import UploadEntry, UploadList, UploadReceipt
from services.api.uploads.service import Uploading, upload
from services.api.uploads.wording import language_of
from services.common.feed_fields import fields_of

router = APIRouter(tags=["uploads"])
MAX_LISTED = 100

_FILE = {"schema": {"type": "string", "format": "binary"}}
_REQUEST_BODY = {
    "required": True,
    "description": "The spreadsheet: a form's `file` field, or the file itself as the body "
    "(name it with `?filename=` or Content-Disposition, or give its Content-Type)",
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _FILE,
        "application/vnd.ms-excel": _FILE,
        "text/csv": _FILE,
    },
}


@router.post(
    "/v1/feeds/{feed}/uploads",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadReceipt,
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        code: {"model": ErrorBody, "description": description}
        for code, description in {
            401: "No key, or an unknown or revoked one",
            403: "The key is not this feed's agency's",
            404: "Unknown feed",
            408: "The file took too long to arrive",
            409: "The same file is being uploaded now",
            413: "A file larger than IOC_UPLOAD_MAX_BYTES, or more rows than IOC_UPLOAD_MAX_ROWS",
            415: "Not an .xlsx, .xls or .csv file",
            422: "An empty or unreadable file, or no sheet with a header row naming the feed's "
            "fields",
            429: "Too many requests with this key; retry after Retry-After",
            503: "Broker unavailable, or this API process already reading its most uploads at"
            " once (IOC_UPLOAD_CONCURRENCY): nothing accepted; retry after Retry-After",
        }.items()
    },
)
async def upload_spreadsheet(
    feed: Feed,
    caller: Caller,
    state: State,
    request: Request,
    filename: Annotated[
        str | None, Query(max_length=255, description="The file's name, for a raw body")
    ] = None,
    accept_language: Annotated[
        str | None, Header(description="`en` for English; Vietnamese otherwise")
    ] = None,
) -> UploadReceipt:
    """A spreadsheet report, each data row a message in the feed's own format, checked as a push
    is; answered once Kafka holds every accepted row. The same file again answers its first
    receipt and produces nothing; a corrected file produces only the rows that changed."""
    require_push(caller, feed)
    state.rate_limiter.take(caller.key_id)
    settings = state.settings
    declared = request.headers.get("content-length")
    # a form's boundaries and headers are allowed for, beyond the file itself
    if (
        declared
        and declared.isdigit()
        and int(declared) > settings.upload_max_bytes + ENVELOPE_BYTES
    ):
        raise too_large(settings.upload_max_bytes)
    with state.upload_slots.one():
        file = await read_file(
            request.stream(),
            content_type=request.headers.get("content-type"),
            content_disposition=request.headers.get("content-disposition"),
            filename=filename,
            limit=settings.upload_max_bytes,
            timeout_s=settings.upload_read_timeout_s,
        )
        uploading = Uploading(
            feed=feed,
            fields=fields_of(feed),
            intake=state.intakes[feed.feed],
            gateway=state.gateway,
            topic=settings.common.topics.raw(feed.feed),
            now=state.clock(),
            future_bound=settings.common.future_bound,
            max_rows=settings.upload_max_rows,
            broker_timeout_s=settings.broker_timeout_s,
        )
        return await upload(
            state.pool,
            file,
            uploading,
            unit=caller.subject,
            key_id=caller.key_id,
            language=language_of(accept_language),
        )


@router.get(
    "/v1/feeds/{feed}/uploads",
    response_model=UploadList,
    responses={
        401: {"model": ErrorBody, "description": "No key, or an unknown or revoked one"},
        403: {"model": ErrorBody, "description": "The key is not this feed's agency's"},
        404: {"model": ErrorBody, "description": "Unknown feed"},
        422: {"model": ErrorBody, "description": "A limit outside 1-100"},
    },
)
async def list_uploads(
    feed: Feed,
    caller: Caller,
    state: State,
    limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 20,
    accept_language: Annotated[
        str | None, Header(description="`en` for English; Vietnamese otherwise")
    ] = None,
) -> UploadList:
    """The caller's unit's uploads of this feed, newest first, each with its receipt."""
    require_push(caller, feed)
    language = language_of(accept_language)
    async with state.pool.acquire() as connection:
        rows = await repository.uploads_of(connection, feed.feed, caller.subject, limit)
    return UploadList(
        feed=feed.feed,
        unit=caller.subject,
        uploads=[
            UploadEntry(
                upload=row["id"],
                file=row["file_name"],
                size=row["size"],
                sha256=row["sha256"],
                received_at=row["received_at"],
                key_id=row["key_id"],
                file_kept=row["file_kept"],
                receipt=UploadReceipt.model_validate(row["receipt"][language]),
            )
            for row in rows
        ],
    )

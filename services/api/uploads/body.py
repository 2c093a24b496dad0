"""An upload's file out of its request: a ``multipart/form-data`` field named ``file`` (what a
browser's form sends), or the whole body (its name from ``?filename=`` or a
``Content-Disposition`` header). Read with a size limit; the kind of file by its name, its media
type, else its first bytes."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage

from services.api.push.body import PayloadTooLarge, RequestTimeout, Unprocessable, read_limited
from services.api.uploads.workbook import FileKind, kind_of

MULTIPART = "multipart/form-data"
ENVELOPE_BYTES = 64 * 1024  # a multipart body's boundaries and headers, beyond the file itself


class UnsupportedFile(Unprocessable):
    status_code = 415
    error = "unsupported_media_type"


@dataclass(frozen=True, slots=True)
class UploadedFile:
    content: bytes
    name: str | None
    kind: FileKind


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the file is larger than {limit:,} bytes (IOC_UPLOAD_MAX_BYTES); split it"
    )


async def read_file(
    chunks: AsyncIterator[bytes],
    *,
    content_type: str | None,
    content_disposition: str | None,
    filename: str | None,
    limit: int,
    timeout_s: float,
) -> UploadedFile:
    media_type = (content_type or "").split(";")[0].strip().lower()
    allowance = limit + (ENVELOPE_BYTES if media_type == MULTIPART else 0)
    try:
        async with asyncio.timeout(timeout_s):
            body = await read_limited(chunks, allowance)
    except TimeoutError:
        raise RequestTimeout("the file took too long to arrive") from None
    except PayloadTooLarge:
        raise too_large(limit) from None
    if media_type == MULTIPART:
        content, name, media_type = _form_file(body, content_type or "")
    else:
        content, name = body, filename or _disposition_name(content_disposition)
    if len(content) > limit:
        raise too_large(limit)
    if not content:
        raise Unprocessable("the file is empty")
    kind = kind_of(name, media_type, content)
    if kind is None:
        raise UnsupportedFile(
            "send an .xlsx, .xls or .csv file: name it so, or give its Content-Type "
            f"(got {name or 'no name'!r}, {media_type or 'no Content-Type'!r})"
        )
    return UploadedFile(content, name, kind)


def _form_file(body: bytes, content_type: str) -> tuple[bytes, str | None, str]:
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if isinstance(parsed, EmailMessage) and parsed.is_multipart():
        for part in parsed.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                content = part.get_payload(decode=True)
                if isinstance(content, bytes):
                    return content, part.get_filename(), part.get_content_type()
    raise Unprocessable(f"a {MULTIPART} body must hold the file in a field named 'file'")


def _disposition_name(header: str | None) -> str | None:
    if not header:
        return None
    message = EmailMessage()
    message["Content-Disposition"] = header
    return message.get_filename()

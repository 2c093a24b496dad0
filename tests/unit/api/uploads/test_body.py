from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.api.push.body import PayloadTooLarge, Unprocessable
from services.api.uploads.body import UnsupportedFile, UploadedFile, read_file
from services.api.uploads.workbook import kind_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 1000):
        yield body[start : start + 1000]


async def _read(body: bytes, content_type: str | None, **options: str | None) -> UploadedFile:
    return await read_file(
        _chunks(body),
        content_type=content_type,
        content_disposition=options.get("disposition"),
        filename=options.get("filename"),
        limit=10_000,
        timeout_s=5,
    )


@pytest.mark.asyncio
async def test_a_form_field_named_file_is_the_file_whatever_its_bytes() -> None:
    content = bytes(range(256)) * 20 + b"\r\n--x\r\n\r\n"
    request = httpx.Request(
        "POST", "http://ioc", files={"file": ("bao cao.xlsx", content, XLSX)}, data={"note": "x"}
    )
    read = await _read(request.read(), request.headers["content-type"])
    assert read == UploadedFile(content, "bao cao.xlsx", "xlsx")


@pytest.mark.asyncio
async def test_a_raw_body_is_named_by_the_query_or_its_content_disposition() -> None:
    assert (await _read(b"a;b\n", None, filename="x.csv")).kind == "csv"
    named = await _read(b"a;b\n", None, disposition='attachment; filename="báo cáo.csv"')
    assert named.name == "báo cáo.csv"
    assert (await _read(b"a;b\n", "text/csv; charset=utf-8")).kind == "csv"


@pytest.mark.asyncio
async def test_refusals() -> None:
    with pytest.raises(PayloadTooLarge):
        await _read(b"x" * 10_001, "text/csv")
    with pytest.raises(UnsupportedFile):
        await _read(b"hello", "text/plain")
    with pytest.raises(Unprocessable):
        await _read(b"", "text/csv")
    request = httpx.Request("POST", "http://ioc", files={"tep": ("x.csv", b"a", "text/csv")})
    with pytest.raises(Unprocessable, match="a field named 'file'"):
        await _read(request.read(), request.headers["content-type"])


def test_the_kind_by_name_then_media_type_then_first_bytes() -> None:
    assert kind_of("BAO-CAO.XLSX", "text/csv", b"") == "xlsx"
    assert kind_of("bao-cao.xls", None, b"") == "xls"
    assert kind_of(None, "application/vnd.ms-excel", b"") == "xls"
    assert kind_of(None, None, b"PK\x03\x04...") == "xlsx"
    assert kind_of(None, None, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1...") == "xls"
    assert kind_of("notes.txt", "text/plain", b"a,b") is None

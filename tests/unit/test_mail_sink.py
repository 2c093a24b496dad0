"""The local mail sink's files: each message whole under a name that sorts as received, and the
listing the console shows (newest first, headers only, nothing half-written)."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

from services.mail_sink import NAME, EmlFiles, messages


def _sent(to: str, subject: str) -> bytes:
    message = EmailMessage()
    message["To"], message["Subject"], message["From"] = to, subject, "ioc@camau.gov.vn"
    message.set_content("Kính gửi")
    return message.as_bytes()


def test_each_message_is_a_file_and_the_newest_is_listed_first(tmp_path: Path) -> None:
    sink = EmlFiles(tmp_path)
    for to, subject in (("a@camau.gov.vn", "Phiếu số 1"), ("b@camau.gov.vn", "Phiếu số 2")):
        envelope = SimpleNamespace(original_content=_sent(to, subject), content=b"")
        assert asyncio.run(sink.handle_DATA(None, None, envelope)).startswith("250")
    (tmp_path / ".1-abc.eml.partial").write_bytes(b"half")  # a write in progress: not listed
    (tmp_path / "notes.eml").write_bytes(b"not the sink's")
    listed = messages(tmp_path, 10)
    assert [(m.to, m.subject) for m in listed] == [
        ("b@camau.gov.vn", "Phiếu số 2"),
        ("a@camau.gov.vn", "Phiếu số 1"),
    ]
    assert all(NAME.fullmatch(m.name) for m in listed)
    assert listed[0].received_at >= listed[1].received_at
    assert (tmp_path / listed[1].name).read_bytes() == _sent("a@camau.gov.vn", "Phiếu số 1")
    assert [m.subject for m in messages(tmp_path, 1)] == ["Phiếu số 2"]

"""The local stack's mail sink (``make up``): an SMTP server on loopback that sends nothing on
and writes each message it is given to ``<dir>/<ns>-<id>.eml``, whole, so a newcomer's first
reminders are delivered (and can be opened, or listed in the console: ``messages``) without a
mail relay. A development tool: aiosmtpd is a dev dependency, imported only to serve, and
production points ``IOC_SMTP_HOST`` at the province's relay.

    python -m services.mail_sink --dir .stack/mail --port 2525
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import Any

NAME = re.compile(r"(?P<ns>[0-9]{19})-[0-9a-f]{8}\.eml")  # received (ns since the epoch), an id


class EmlFiles:
    """An aiosmtpd handler: each message a file, renamed into place whole (a reader never sees
    half of one), named so that they sort in the order received."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        partial = self.folder / f".{name}.partial"
        partial.write_bytes(envelope.original_content or envelope.content)
        os.replace(partial, self.folder / name)
        return "250 Message accepted for delivery"


@dataclass(frozen=True, slots=True)
class Kept:
    """A message the sink keeps: its file's name, when it came, to whom, about what."""

    name: str
    received_at: datetime
    to: str
    subject: str


def messages(folder: Path, limit: int) -> list[Kept]:
    """The newest ``limit`` messages in ``folder``, newest first (headers only are read)."""
    names = sorted((p.name for p in folder.glob("*.eml") if NAME.fullmatch(p.name)), reverse=True)
    kept = []
    for name in names[:limit]:
        with (folder / name).open("rb") as file:
            headers = BytesHeaderParser(policy=default).parse(file)
        match = NAME.fullmatch(name)
        assert match is not None
        kept.append(
            Kept(
                name=name,
                received_at=datetime.fromtimestamp(int(match["ns"]) / 1e9, UTC),
                to=str(headers.get("To", "")),
                subject=str(headers.get("Subject", "")),
            )
        )
    return kept


def main(argv: list[str] | None = None) -> None:
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(prog="mail_sink", description="the local mail sink")
    parser.add_argument("--dir", type=Path, required=True, help="where the .eml files go")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    controller = Controller(EmlFiles(args.dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"mail sink: {args.host}:{args.port}, each message to {args.dir}/*.eml", flush=True)
    try:
        stopped.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

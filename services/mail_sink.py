"""The local stack's mail sink (``make up``): an SMTP server on loopback that sends nothing on
and writes each message it is given to ``<dir>/<n>-<id>.eml``, whole, so a newcomer's first
reminders are delivered (and can be opened) without a mail relay. A development tool: aiosmtpd
is a dev dependency, and production points ``IOC_SMTP_HOST`` at the province's relay.

    python -m services.mail_sink --dir .stack/mail --port 2525
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mail_sink", description=__doc__.splitlines()[0])
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

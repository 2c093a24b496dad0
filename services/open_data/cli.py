"""``ioc export``: write a public feed's days, the province's days, as open-data files."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from services.common.command_errors import CommandError, with_connection
from services.common.feeds import load_feeds
from services.common.province import ZONE
from services.common.settings import CommonSettings
from services.open_data.days import DayError, export_days_at, parse_day


def add_commands(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help=f"write a public feed's days ({ZONE.key} days) as open-data files (CSV, Parquet,"
        " catalogue)",
        description=f"Each day is a day in {ZONE.key}, the province's, from its midnight to the"
        " next. A day still to come is refused; today is not over, so its files hold only what"
        " is stored so far (the command warns): export it again tomorrow.",
    )
    export.add_argument("--feed", required=True)
    export.add_argument(
        "--from",
        dest="first",
        required=True,
        type=_day,
        help="the first day: 2026-11-24 or 24/11/2026",
    )
    export.add_argument(
        "--to", dest="last", required=True, type=_day, help="the last day, included"
    )
    export.add_argument("--out", type=Path, help="default: IOC_OPEN_DATA_DIR")
    export.set_defaults(run=_export)


def _day(text: str) -> date:
    try:
        return parse_day(text)
    except DayError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _export(args: argparse.Namespace) -> None:
    from services.open_data.export import ExportError, export_days

    settings = CommonSettings.from_env()
    feeds = load_feeds(settings.schemas_dir)
    if args.feed not in feeds:
        raise CommandError(f"unknown feed {args.feed!r}; known: {', '.join(sorted(feeds))}")
    try:
        days = export_days_at(args.first, args.last, datetime.now(UTC))
    except DayError as error:
        raise CommandError(str(error)) from error
    if days.unfinished is not None:
        print(
            f"{args.command}: warning: {days.unfinished} is today in {ZONE.key} and not over: its"
            " files hold the rows stored so far; export it again tomorrow",
            file=sys.stderr,
        )
    folder = args.out or settings.open_data_dir
    public = [name for name, feed in feeds.items() if feed.public]

    def progress(done: int, total: int, rows: int) -> None:
        filled = done * 30 // total
        bar = "#" * filled + "." * (30 - filled)
        end = "\n" if done == total or not sys.stderr.isatty() else "\r"
        print(f"[{bar}] {done}/{total} days, {rows:,} rows", end=end, file=sys.stderr)

    try:
        exported = with_connection(
            settings.database_url,
            lambda connection: export_days(
                connection, feeds[args.feed], days.first, days.last, folder, public, progress
            ),
        )
    except ExportError as error:
        raise CommandError(str(error)) from error
    rows = sum(day.rows for day in exported)
    print(
        f"exported {len(exported)} days ({days.first} to {days.last}, days in {ZONE.key};"
        f" {rows:,} rows) of {args.feed} to {folder}"
    )

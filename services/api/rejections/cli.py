"""``ioc rejections``: the quarantine from the operator's terminal. ``list`` a feed's records
newest first, from the same repository as ``GET /v1/feeds/{feed}/rejections``: when, why, and
the start of the payload; ``replay`` them to the raw topic after a mapping fix."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from services.common.command_errors import CommandError, using_store, with_connection
from services.common.feeds import FeedDefinition, load_feeds
from services.common.province import ZONE
from services.common.settings import CommonSettings
from services.common.terminal import moment, short

LARGEST_PAGE = 1000  # as the API's


def add_commands(commands: Any) -> None:
    rejections = commands.add_parser("rejections", help="the quarantine: list, replay")
    actions = rejections.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="a feed's quarantined records, newest first: when, why, the payload's start"
    )
    listing.add_argument("--feed", required=True)
    listing.add_argument(
        "--limit",
        type=_page_size,
        default=20,
        help=f"how many (default 20, at most {LARGEST_PAGE})",
    )
    listing.add_argument("--before", type=int, help="only those older than this id (next page)")
    listing.set_defaults(run=_list)
    replay = actions.add_parser(
        "replay", help="send a feed's quarantined records back to its raw topic after a fix"
    )
    replay.add_argument("--feed", required=True)
    replay.set_defaults(run=_replay)


def _page_size(text: str) -> int:
    size = int(text)
    if not 1 <= size <= LARGEST_PAGE:
        raise argparse.ArgumentTypeError(f"from 1 to {LARGEST_PAGE}")
    return size


def _feed(settings: CommonSettings, name: str) -> FeedDefinition:
    feeds = load_feeds(settings.schemas_dir)
    if name not in feeds:
        raise CommandError(f"unknown feed {name!r}; known: {', '.join(sorted(feeds))}")
    return feeds[name]


def _list(args: argparse.Namespace) -> None:
    from services.api.rejections.repository import fetch_rejections

    settings = CommonSettings.from_env()
    feed = _feed(settings, args.feed)
    rows = with_connection(
        settings.database_url,
        lambda connection: fetch_rejections(connection, feed.feed, args.before, args.limit + 1),
    )
    for line in render(rows[: args.limit], more=len(rows) > args.limit):
        print(line)


def render(rows: list[Any], *, more: bool) -> list[str]:
    """Each record on two lines: its id, when it was quarantined (the province's time), where it
    came from and why; then the start of its payload."""
    if not rows:
        return ["no quarantined records"]
    lines = []
    for row in rows:
        lines.append(
            f"#{row['id']}  {moment(row['rejected_at'], seconds=True)}  "
            f"{row['topic']}[{row['partition']}]@{row['offset']}  {row['reason']}"
        )
        lines.append(f"    {short(bytes(row['raw']).decode('utf-8', 'replace'), 100)}")
    shown = f"{len(rows)} shown, times in {ZONE.key}"
    lines.append(f"{shown}; older: --before {rows[-1]['id']}" if more else shown)
    return lines


def _replay(args: argparse.Namespace) -> None:
    from services.common.db import create_pool
    from services.common.intake.feed_intake import FeedIntake
    from services.common.kafka import producing
    from services.ingest.replay import replay_rejections

    settings = CommonSettings.from_env()
    feed = _feed(settings, args.feed)

    async def replay() -> int:
        pool = await create_pool(settings.database_url, max_size=1)
        try:
            async with producing(settings.kafka) as producer:
                return await replay_rejections(
                    pool,
                    producer,
                    settings.topics,
                    FeedIntake.of(feed),
                    progress=lambda n: print(f"replayed {n} ...", file=sys.stderr),
                )
        finally:
            await pool.close()

    with using_store(settings.database_url):
        count = asyncio.run(replay())
    print(
        f"replayed {count} quarantined records of {args.feed} to {settings.topics.raw(args.feed)}"
    )

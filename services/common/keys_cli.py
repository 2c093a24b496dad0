"""``ioc keys``: issue a key (shown once, with a label saying what it is for), list them (by
kind, by unit: each with its prefix, label, when created and last used, and whether revoked),
revoke one. Rotating a key is issuing the new one, deploying it, then revoking the old
(docs/deploy.md)."""

from __future__ import annotations

import argparse
from typing import Any

from services.common.command_errors import CommandError, with_connection
from services.common.feeds import load_feeds
from services.common.keys import KEY_KINDS, LABEL_MAX, KeyKind, issue_key, list_keys, revoke_key
from services.common.province import ZONE
from services.common.settings import CommonSettings
from services.common.terminal import moment
from services.common.units import load_units


def add_commands(commands: Any) -> None:
    keys = commands.add_parser("keys", help="API keys: issue, list, revoke")
    actions = keys.add_subparsers(required=True, metavar="ACTION")
    issue = actions.add_parser("issue", help="print a new key once (its last line)")
    who = issue.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--agency",
        help="a unit's code (schemas/units/, a commune's too): the key pushes to the unit's own"
        " feeds, reads them, and reads and acknowledges the unit's reminders",
    )
    who.add_argument("--reader", help="a reader's name (a wall display): reads")
    who.add_argument(
        "--operator",
        help="an IOC operator's name: reads, runs the reminder register (GET /console) and sees"
        " units' contacts; each action is recorded under the name",
    )
    issue.add_argument(
        "--label", type=_label, help='what the key is for, shown in keys list ("wall, room 2")'
    )
    issue.set_defaults(run=_issue)
    listing = actions.add_parser(
        "list", help="keys: id, kind, subject, prefix, created, last used, state, label"
    )
    listing.add_argument("--kind", choices=KEY_KINDS)
    listing.add_argument("--unit", help="only the keys of this unit (its code)")
    listing.set_defaults(run=_list)
    revoke = actions.add_parser("revoke", help="revoke a key by its id, at once")
    revoke.add_argument("key_id", type=int)
    revoke.set_defaults(run=_revoke)


def _label(text: str) -> str:
    label = " ".join(text.split())
    if not label:
        raise argparse.ArgumentTypeError("say what the key is for")
    if len(label) > LABEL_MAX:
        raise argparse.ArgumentTypeError(f"at most {LABEL_MAX} characters")
    return label


def _issue(args: argparse.Namespace) -> None:
    settings = CommonSettings.from_env()
    if args.agency:
        # A unit's key: a department that owns feeds pushes to them; every unit, communes
        # included, reads and acknowledges its own reminders.
        feeds = load_feeds(settings.schemas_dir)
        units = set(load_units(settings.schemas_dir, feeds).by_code)
        agencies = units | {feed.agency for feed in feeds.values()}
        if args.agency not in agencies:
            raise CommandError(
                f"unknown agency {args.agency!r}; known: {', '.join(sorted(agencies))}"
            )
    kind: KeyKind = "agency" if args.agency else "operator" if args.operator else "reader"
    subject: str = args.agency or args.operator or args.reader

    key_id, key = with_connection(
        settings.database_url, lambda c: issue_key(c, kind, subject, args.label)
    )
    labelled = f" ({args.label})" if args.label else ""
    print(f"issued {kind} key #{key_id} for {subject}{labelled}; it is shown once, keep it safe:")
    print(key)


def _list(args: argparse.Namespace) -> None:
    url = CommonSettings.from_env().database_url
    rows = with_connection(url, lambda c: list_keys(c, kind=args.kind, subject=args.unit))
    for line in render(rows):
        print(line)


def render(rows: list[Any]) -> list[str]:
    """A line per key; a key issued before prefixes were kept shows ``-`` for its prefix."""
    lines = [
        f"{'id':>5}  {'kind':<8} {'subject':<20} {'prefix':<12}  {'created':<23}  "
        f"{'last used':<23}  {'state':<31}  label"
    ]
    for row in rows:
        state = f"revoked {moment(row['revoked_at'])}" if row["revoked_at"] else "active"
        lines.append(
            f"{row['id']:>5}  {row['kind']:<8} {row['subject']:<20} {row['prefix'] or '-':<12}  "
            f"{moment(row['created_at']):<23}  {moment(row['last_used_at']):<23}  {state:<31}  "
            f"{row['label'] or '-'}"
        )
    lines.append(f"{len(rows)} keys, times in {ZONE.key}; last used: to the minute")
    return lines


def _revoke(args: argparse.Namespace) -> None:
    url = CommonSettings.from_env().database_url
    if not with_connection(url, lambda c: revoke_key(c, args.key_id)):
        raise CommandError(f"no key #{args.key_id}")
    print(f"key #{args.key_id} revoked")

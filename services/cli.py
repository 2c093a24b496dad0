"""``ioc``: the operator's command line (installed in the project's .venv)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from aiokafka.errors import KafkaConnectionError

from services.api.reminders import cli as reminders_cli
from services.common.command_errors import CommandError, using_store
from services.common.db import create_pool, storage_mode
from services.common.feeds import FeedDefinitionError, load_feeds
from services.common.kafka import why_refused
from services.common.keys import KeyKind, issue_key, list_keys, revoke_key
from services.common.logs import configure_logging, redact
from services.common.settings import CommonSettings, SettingsError
from services.common.storage_jobs import StorageJob, storage_jobs, timescaledb_version
from services.common.units import load_units

T = TypeVar("T")


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging()
    try:
        args.run(args)
        if sys.stdout is not None:  # None when run with stdout closed
            sys.stdout.flush()  # a reader that left early is found here, not at the exit's flush
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # The reader closed early (`ioc feed-expected ... | head`): what it did not read is not
        # wanted. stdout goes to devnull so the exit's flush does not fail again (Python's docs).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except CommandError as error:
        _fail(args, str(error), error.code)
    except (SettingsError, FeedDefinitionError) as error:
        _fail(args, str(error))
    except OSError as error:
        if error.filename is None:
            raise
        _fail(args, f"{error.filename}: {error.strerror}")
    except KafkaConnectionError:
        kafka = CommonSettings.from_env().kafka
        _fail(args, f"cannot use Kafka at {kafka.described}: {asyncio.run(why_refused(kafka))}")


def _fail(args: argparse.Namespace, message: str, code: int = 1) -> NoReturn:
    """An expected failure: one line on stderr, after the command's name, and its exit code."""
    print(f"{args.command}: {message}", file=sys.stderr)
    sys.exit(code)


class _Parser(argparse.ArgumentParser):
    """Each command's parser records its name (`ioc keys list`) with what runs it, for _fail."""

    def set_defaults(self, **kwargs: Any) -> None:
        super().set_defaults(command=self.prog, **kwargs)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ioc", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    info = commands.add_parser("info", help="where the store and broker are, the storage mode")
    info.set_defaults(run=_info)

    migrate = commands.add_parser("migrate", help="bring the store's schema up to date")
    migrate.add_argument("--storage-mode", choices=["timescaledb", "postgres"])
    migrate.set_defaults(run=_migrate)

    topics = commands.add_parser("topics", help="create the raw topics and the DLQ if missing")
    topics.add_argument("action", choices=["ensure"])
    topics.set_defaults(run=_topics)

    keys = commands.add_parser("keys", help="API keys: issue, list, revoke")
    key_actions = keys.add_subparsers(required=True, metavar="ACTION")
    issue = key_actions.add_parser("issue", help="print a new key once (its last line)")
    who = issue.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--agency",
        help="a unit's code (schemas/units/, a commune's too): the key pushes to the unit's own"
        " feeds, reads them, and reads and acknowledges the unit's reminders",
    )
    who.add_argument("--reader", help="a reader's name (a wall display, Grafana): reads")
    who.add_argument(
        "--operator",
        help="an IOC operator's name: reads, runs the reminder register (GET /console) and sees"
        " units' contacts; each action is recorded under the name",
    )
    issue.set_defaults(run=_keys_issue)
    listing = key_actions.add_parser("list", help="every key: id, kind, subject, state")
    listing.set_defaults(run=_keys_list)
    revoke = key_actions.add_parser("revoke", help="revoke a key by its id, at once")
    revoke.add_argument("key_id", type=int)
    revoke.set_defaults(run=_keys_revoke)

    expected = commands.add_parser(
        "feed-expected", help="print a feed's examples normalised (a draft of expected.ndjson)"
    )
    expected.add_argument("--feed", required=True)
    expected.set_defaults(run=_feed_expected)

    rejections = commands.add_parser("rejections", help="the quarantine")
    rejections.add_argument("action", choices=["replay"])
    rejections.add_argument("--feed", required=True)
    rejections.set_defaults(run=_rejections)

    produce = commands.add_parser("produce", help="publish an NDJSON file to a feed's raw topic")
    produce.add_argument("--feed", required=True)
    produce.add_argument("file", type=Path)
    produce.set_defaults(run=_produce)

    export = commands.add_parser(
        "export", help="write a public feed's days as open-data files (CSV, Parquet, catalogue)"
    )
    export.add_argument("--feed", required=True)
    export.add_argument("--from", dest="first", required=True, type=date.fromisoformat)
    export.add_argument("--to", dest="last", required=True, type=date.fromisoformat)
    export.add_argument("--out", type=Path, help="default: IOC_OPEN_DATA_DIR")
    export.set_defaults(run=_export)

    backup = commands.add_parser(
        "backup", help="back the store up with pgBackRest (on the database host)"
    )
    backup.add_argument("--type", choices=["full", "diff", "incr"], default="incr")
    backup.add_argument(
        "--init", action="store_true", help="first create the stanza (once per store)"
    )
    backup.set_defaults(run=_backup)
    restore = commands.add_parser(
        "restore", help="restore the store to a point in time, then rewind the workers' group"
    )
    target = restore.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", dest="moment", type=datetime.fromisoformat)
    target.add_argument(
        "--rewind-only",
        action="store_true",
        help="the store was restored by other means (CloudNativePG): only rewind the group",
    )
    restore.set_defaults(run=_restore)

    reminders_cli.add_commands(commands)

    worker = commands.add_parser("worker", help="run the ingest worker")
    worker.set_defaults(run=_worker)

    api = commands.add_parser("api", help="run the HTTP API")
    api.add_argument("--port", type=int)
    api.add_argument(
        "--processes", type=int, default=1, help="API processes sharing the port (default 1)"
    )
    api.set_defaults(run=_api)

    simulate = commands.add_parser("simulate", help="play the department feeds live")
    simulate.set_defaults(run=_simulate)
    return parser


def _run_until_signalled(start: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Runs a long-lived service; SIGTERM or SIGINT asks it to drain and stop."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await start(stop)

    asyncio.run(run())


def _info(args: argparse.Namespace) -> None:
    settings = CommonSettings.from_env()

    feeds = load_feeds(settings.schemas_dir)
    store = _with_connection(settings, _store_facts)
    print(f"database:     {redact(settings.database_url)}")
    print(f"kafka:        {settings.kafka}")
    print(f"storage mode: {store.mode or 'not migrated (run: ioc migrate)'}")
    if store.timescaledb_version is not None:
        print(f"timescaledb:  {store.timescaledb_version}")
    print(f"feeds:        {', '.join(sorted(feeds))}")
    if store.jobs:
        print("jobs:         id    last run  failures  last success      next start       name")
    for job in store.jobs:
        print(
            f"              {job.id:<5} {job.last_status or 'not yet':<9} {job.failures:>8}  "
            f"{_minute(job.last_success):<17} {_minute(job.next_start):<16} {job.name}"
        )
        if job.failing and job.last_error:
            print(f"                    failed: {job.last_error}")


@dataclass(frozen=True)
class _StoreFacts:
    mode: str | None
    timescaledb_version: str | None
    jobs: list[StorageJob]


async def _store_facts(connection: Any) -> _StoreFacts:
    mode, version = await storage_mode(connection), await timescaledb_version(connection)
    jobs = await storage_jobs(connection) if mode is not None and version is not None else []
    return _StoreFacts(mode, version, jobs)


def _minute(at: datetime | None) -> str:
    return "-" if at is None else at.strftime("%Y-%m-%d %H:%M")


def _migrate(args: argparse.Namespace) -> None:
    from services.common.migrate import upgrade
    from services.common.storage_mode import StorageModeError

    settings = CommonSettings.from_env()
    try:
        with using_store(settings.database_url):
            upgrade(settings.database_url, storage_mode=args.storage_mode)
    except StorageModeError as error:
        raise CommandError(str(error)) from error
    print("migrated")


def _topics(args: argparse.Namespace) -> None:
    from services.common.topics import TopicsRefused, ensure_topics

    settings = CommonSettings.from_env()
    feeds = load_feeds(settings.schemas_dir)
    try:
        created = asyncio.run(ensure_topics(settings.kafka, settings.topics.partitions(feeds)))
    except TopicsRefused as error:
        raise CommandError(str(error)) from error
    print(f"topics ready ({len(created)} created: {', '.join(created) or 'none'})")


def _with_connection(settings: CommonSettings, use: Callable[[Any], Awaitable[T]]) -> T:
    async def run() -> T:
        pool = await create_pool(settings.database_url, max_size=1)
        try:
            async with pool.acquire() as connection:
                return await use(connection)
        finally:
            await pool.close()

    with using_store(settings.database_url):
        return asyncio.run(run())


def _keys_list(args: argparse.Namespace) -> None:
    rows = _with_connection(CommonSettings.from_env(), list_keys)
    print(f"{'id':>5}  {'kind':<7} {'subject':<20} {'created (UTC)':<17} state")
    for row in rows:
        state = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "active"
        print(
            f"{row['id']:>5}  {row['kind']:<7} {row['subject']:<20} "
            f"{row['created_at']:%Y-%m-%d %H:%M}  {state}"
        )


def _keys_revoke(args: argparse.Namespace) -> None:
    if not _with_connection(CommonSettings.from_env(), lambda c: revoke_key(c, args.key_id)):
        raise CommandError(f"no key #{args.key_id}")
    print(f"key #{args.key_id} revoked")


def _keys_issue(args: argparse.Namespace) -> None:
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

    key_id, key = _with_connection(settings, lambda c: issue_key(c, kind, subject))
    print(f"issued {kind} key #{key_id} for {subject}; it is shown once, keep it safe:")
    print(key)


def _feed_expected(args: argparse.Namespace) -> None:
    from services.common.intake.normalise import Normaliser
    from services.ingest.expected import canonical_form

    feeds = load_feeds(CommonSettings.from_env().schemas_dir)
    if args.feed not in feeds:
        raise CommandError(f"unknown feed {args.feed!r}")
    normalise = Normaliser(feeds[args.feed])
    for line in feeds[args.feed].examples_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            print(json.dumps(canonical_form(normalise(json.loads(line))), ensure_ascii=False))


def _rejections(args: argparse.Namespace) -> None:
    from services.common.intake.feed_intake import FeedIntake
    from services.common.kafka import producing
    from services.ingest.replay import replay_rejections

    settings = CommonSettings.from_env()
    feeds = load_feeds(settings.schemas_dir)
    if args.feed not in feeds:
        raise CommandError(f"unknown feed {args.feed!r}")

    async def replay() -> int:
        pool = await create_pool(settings.database_url, max_size=1)
        try:
            async with producing(settings.kafka) as producer:
                return await replay_rejections(
                    pool,
                    producer,
                    settings.topics,
                    FeedIntake.of(feeds[args.feed]),
                    progress=lambda n: print(f"replayed {n} ...", file=sys.stderr),
                )
        finally:
            await pool.close()

    with using_store(settings.database_url):
        count = asyncio.run(replay())
    print(
        f"replayed {count} quarantined records of {args.feed} to {settings.topics.raw(args.feed)}"
    )


def _export(args: argparse.Namespace) -> None:
    from services.open_data.export import ExportError, export_days

    settings = CommonSettings.from_env()
    feeds = load_feeds(settings.schemas_dir)
    if args.feed not in feeds:
        raise CommandError(f"unknown feed {args.feed!r}; known: {', '.join(sorted(feeds))}")
    folder = args.out or settings.open_data_dir
    public = [name for name, feed in feeds.items() if feed.public]

    def progress(done: int, total: int, rows: int) -> None:
        filled = done * 30 // total
        bar = "#" * filled + "." * (30 - filled)
        end = "\n" if done == total or not sys.stderr.isatty() else "\r"
        print(f"[{bar}] {done}/{total} days, {rows:,} rows", end=end, file=sys.stderr)

    try:
        exported = _with_connection(
            settings,
            lambda connection: export_days(
                connection, feeds[args.feed], args.first, args.last, folder, public, progress
            ),
        )
    except ExportError as error:
        raise CommandError(str(error)) from error
    rows = sum(day.rows for day in exported)
    print(f"exported {len(exported)} days ({rows:,} rows) of {args.feed} to {folder}")


def _backup(args: argparse.Namespace) -> None:
    from services.backup.pgbackrest import BackupError, BackupSettings, backup, create_stanza

    settings = BackupSettings.from_env()
    try:
        if args.init:
            create_stanza(settings)
        label = backup(settings, args.type)
    except BackupError as error:
        raise CommandError(str(error)) from error
    print(f"backed up: {label}")


def _restore(args: argparse.Namespace) -> None:
    from services.backup.offsets import refuse_if_active, rewind_to_store, wait_until_writable
    from services.backup.pgbackrest import BackupError, BackupSettings, restore_to
    from services.ingest.settings import WorkerSettings

    worker = WorkerSettings.from_env()
    common = worker.common
    topics = [common.topics.raw(feed) for feed in load_feeds(common.schemas_dir)]
    try:
        asyncio.run(refuse_if_active(common.kafka, worker.group_id))
        if not args.rewind_only:
            restore_to(BackupSettings.from_env(), args.moment)

        async def rewind() -> dict[Any, int]:
            await wait_until_writable(common.database_url)
            return await rewind_to_store(common.database_url, common.kafka, worker.group_id, topics)

        rewound = asyncio.run(rewind())
    except BackupError as error:
        raise CommandError(str(error)) from error
    restored = "rewound" if args.rewind_only else f"restored to {args.moment.isoformat()};"
    print(f"{restored} the workers' group {worker.group_id} starts")
    for partition, offset in sorted(rewound.items()):
        print(f"  {partition.topic}[{partition.partition}] at offset {offset}")
    print("start the workers: they ingest again what came after")


def _produce(args: argparse.Namespace) -> None:
    from services.common.intake.feed_intake import FeedIntake
    from services.common.kafka import producing

    settings = CommonSettings.from_env()
    feeds = load_feeds(settings.schemas_dir)
    if args.feed not in feeds:
        raise CommandError(f"unknown feed {args.feed!r}")
    lines = [line for line in args.file.read_bytes().splitlines() if line.strip()]
    intake = FeedIntake.of(feeds[args.feed])

    async def produce() -> None:
        async with producing(settings.kafka) as producer:
            topic = settings.topics.raw(args.feed)
            deliveries = [
                await producer.send(topic, line, key=intake.key_of(line)) for line in lines
            ]
            await asyncio.gather(*deliveries)

    asyncio.run(produce())
    print(f"produced {len(lines)} records to {settings.topics.raw(args.feed)}")


def _worker(args: argparse.Namespace) -> None:
    from prometheus_client import start_http_server

    from services.ingest.settings import WorkerSettings
    from services.ingest.worker import run_worker

    settings = WorkerSettings.from_env()
    feeds = load_feeds(settings.common.schemas_dir)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    with using_store(settings.common.database_url):
        _run_until_signalled(lambda stop: run_worker(settings, feeds.values(), stop))


def _api(args: argparse.Namespace) -> None:
    import os
    import tempfile

    import uvicorn

    from services.api.app import create_app
    from services.api.settings import ApiSettings

    settings = ApiSettings.from_env(port=args.port)
    if args.processes <= 1:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
        return
    # Several processes: each writes its metric samples to a directory of this run, which
    # /metrics merges (prometheus-client's multiprocess mode); the processes read it from env.
    with tempfile.TemporaryDirectory(prefix="ioc-api-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        os.environ["IOC_API_PORT"] = str(settings.port)
        uvicorn.run(
            "services.api.app:app_from_env",
            factory=True,
            workers=args.processes,
            host=settings.host,
            port=settings.port,
            log_config=None,  # uvicorn's loggers go through the JSON logging of every process
        )


def _simulate(args: argparse.Namespace) -> None:
    import os

    from services.simulator.faults import FaultRates
    from services.simulator.simulate import run_simulator

    settings = CommonSettings.from_env()
    feeds = list(load_feeds(settings.schemas_dir).values())
    # IOC_SIMULATOR_FAULTS=0: the examples only, without late feeds, "N/A" or corrections.
    rates = FaultRates.none() if os.environ.get("IOC_SIMULATOR_FAULTS") == "0" else FaultRates()
    _run_until_signalled(
        lambda stop: run_simulator(settings.kafka, settings.topics, feeds, stop, rates)
    )


if __name__ == "__main__":
    main()

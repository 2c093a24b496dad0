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
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from aiokafka.errors import KafkaConnectionError

from services.api.feeds import cli as feeds_cli
from services.api.rejections import cli as rejections_cli
from services.api.reminders import cli as reminders_cli
from services.common import keys_cli
from services.common.command_errors import CommandError, using_store, with_connection
from services.common.db import storage_mode
from services.common.feeds import FeedDefinitionError, load_feeds
from services.common.kafka import why_refused
from services.common.logs import configure_logging, redact
from services.common.province import ZONE
from services.common.settings import CommonSettings, SettingsError, env_int, env_secret
from services.common.storage_jobs import StorageJob, storage_jobs, timescaledb_version
from services.common.terminal import moment
from services.connectors.definitions import ConnectorDefinitionError
from services.open_data import cli as export_cli


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        configure_logging()
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
    except (SettingsError, FeedDefinitionError, ConnectorDefinitionError) as error:
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

    keys_cli.add_commands(commands)

    grafana = commands.add_parser(
        "grafana-role",
        help="create or update the role Grafana reads the store as (SELECT on what the"
        " dashboards read, nothing else)",
    )
    grafana.add_argument("role", nargs="?", default="ioc_grafana")
    grafana.add_argument(
        "--password-env",
        default="IOC_GRAFANA_DB_PASSWORD",
        help="the environment variable holding its password (default: %(default)s; unset:"
        " the password is left as it is)",
    )
    grafana.set_defaults(run=_grafana_role)

    expected = commands.add_parser(
        "feed-expected", help="print a feed's examples normalised (a draft of expected.ndjson)"
    )
    expected.add_argument("--feed", required=True)
    expected.set_defaults(run=_feed_expected)

    feeds_cli.add_commands(commands)
    rejections_cli.add_commands(commands)

    produce = commands.add_parser("produce", help="publish an NDJSON file to a feed's raw topic")
    produce.add_argument("--feed", required=True)
    produce.add_argument("file", type=Path)
    produce.set_defaults(run=_produce)

    export_cli.add_commands(commands)

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

    connectors = commands.add_parser(
        "connectors", help="pull departments' APIs (schemas/connectors)"
    )
    connector_actions = connectors.add_subparsers(required=True, metavar="ACTION")
    pulling = connector_actions.add_parser(
        "run", help="pull every connector on its schedule, or the given ones once (--once)"
    )
    pulling.add_argument(
        "--once",
        action="store_true",
        help="pull each once and exit, non-zero with the reason if a pull failed",
    )
    pulling.add_argument(
        "files", nargs="*", type=Path, metavar="FILE", help="default: IOC_CONNECTORS_DIR's"
    )
    pulling.set_defaults(run=_connectors_run)

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
    store = with_connection(settings.database_url, _store_facts)
    print(f"database:     {redact(settings.database_url)}")
    print(f"kafka:        {settings.kafka.described}")
    if settings.kafka.ca_file is not None:
        print(f"kafka CA:     {settings.kafka.ca_file}")
    if settings.topics.namespace:
        print(f"topics:       under the namespace {settings.topics.namespace!r}")
    print(f"storage mode: {store.mode or 'not migrated (run: ioc migrate)'}")
    if store.timescaledb_version is not None:
        print(f"timescaledb:  {store.timescaledb_version}")
    print(f"feeds:        {', '.join(sorted(feeds))}")
    print(f"schemas:      {settings.schemas_dir}")
    print(f"open data:    {settings.open_data_dir}")
    if store.jobs:
        print(f"jobs:         times in {ZONE.key}, with their offset")
        print(
            f"              {'id':<5} {'last run':<9} {'failures':>8}  "
            f"{'last success':<23} {'next start':<23} name"
        )
    for job in store.jobs:
        print(
            f"              {job.id:<5} {job.last_status or 'not yet':<9} {job.failures:>8}  "
            f"{moment(job.last_success):<23} {moment(job.next_start):<23} {job.name}"
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


def _grafana_role(args: argparse.Namespace) -> None:
    import asyncpg

    from services.common.grafana_role import DASHBOARD_COLUMNS, DASHBOARD_RELATIONS, grant

    password = os.environ.get(args.password_env) or None

    async def run(connection: Any) -> bool:
        try:
            return await grant(connection, args.role, password)
        except asyncpg.InsufficientPrivilegeError as error:
            raise CommandError(
                f"{error}: run it as a role that may create roles and grant on the store's tables"
            ) from None
        except asyncpg.UndefinedTableError as error:
            raise CommandError(f"{error}: run `ioc migrate` first") from None

    created = with_connection(CommonSettings.from_env().database_url, run)
    print(
        f"role {args.role} {'created' if created else 'updated'}: SELECT on "
        f"{', '.join(DASHBOARD_RELATIONS)}; "
        + ", ".join(f"{t} ({', '.join(c)})" for t, c in DASHBOARD_COLUMNS.items())
        + ("" if password else f" (no password set: ${args.password_env} is empty)")
    )


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


def _backup(args: argparse.Namespace) -> None:
    from services.backup.pgbackrest import BackupError, BackupSettings, backup, create_stanza

    settings = BackupSettings.from_env()
    if not settings.config.is_file():
        raise CommandError(
            f"no pgBackRest configuration at {settings.config} (IOC_PGBACKREST_CONFIG): set up"
            " archiving as docs/deploy.md says; the make up stack does not archive"
            " (docs/how-to.md, 'Back up the make up stack')"
        )
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

    from services.ingest import heap
    from services.ingest.settings import WorkerSettings
    from services.ingest.worker import run_worker

    settings = WorkerSettings.from_env()
    feeds = load_feeds(settings.common.schemas_dir)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    with using_store(settings.common.database_url):
        heap.settle()
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


def _connectors_run(args: argparse.Namespace) -> None:
    from prometheus_client import start_http_server

    from services.connectors.definitions import connector_files, load_connectors
    from services.connectors.failures import PullFailed
    from services.connectors.service import pull_once, run_connectors
    from services.connectors.settings import ConnectorsSettings

    settings = ConnectorsSettings.from_env()
    feeds = load_feeds(settings.common.schemas_dir)
    files = args.files or connector_files(settings.directory)
    if not files:
        raise CommandError(f"no connector definitions (*.yaml) in {settings.directory}")
    connectors = load_connectors(files, feeds, os.environ)
    if args.once:
        with using_store(settings.common.database_url):
            outcomes = asyncio.run(pull_once(settings, connectors, feeds))
        for outcome in outcomes:
            if not isinstance(outcome, PullFailed):
                print(outcome.said)
        failed = [
            f"{connector.name}: {outcome}"
            for connector, outcome in zip(connectors, outcomes, strict=True)
            if isinstance(outcome, PullFailed)
        ]
        if failed:
            raise CommandError("; ".join(failed))
        return
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    with using_store(settings.common.database_url):
        _run_until_signalled(lambda stop: run_connectors(settings, connectors, feeds, stop))


def _simulate(args: argparse.Namespace) -> None:
    import os

    from services.simulator.faults import FaultRates
    from services.simulator.simulate import DepartmentApi, run_simulator

    settings = CommonSettings.from_env()
    feeds = list(load_feeds(settings.schemas_dir).values())
    # IOC_SIMULATOR_FAULTS=0: the examples only, without late feeds, "N/A" or corrections.
    rates = FaultRates.none() if os.environ.get("IOC_SIMULATOR_FAULTS") == "0" else FaultRates()
    # IOC_SIMULATOR_API_PORT: the pulled departments' APIs served there, behind IOC_LGSP_KEY,
    # for the example connectors (schemas/connectors/), instead of published.
    api = None
    if os.environ.get("IOC_SIMULATOR_API_PORT"):
        key = env_secret(os.environ, "IOC_LGSP_KEY")
        if not key:
            raise CommandError(
                "IOC_SIMULATOR_API_PORT needs the key its APIs want: IOC_LGSP_KEY (or _FILE)"
            )
        port = env_int(os.environ, "IOC_SIMULATOR_API_PORT", 0)
        api = DepartmentApi("127.0.0.1", port, key)
    _run_until_signalled(
        lambda stop: run_simulator(settings.kafka, settings.topics, feeds, stop, rates, api)
    )


if __name__ == "__main__":
    main()

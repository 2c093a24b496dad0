"""Writes BENCHMARKS.md from the figures of the last `make bench` (bench/results/*.json)."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.results import read_figures
from services.common.settings import REPO_ROOT

PEER_MULTIPLE = 2  # issue 29's target: ingest at least twice the peer's rate, in both modes
# (figure, what it is, the target in words, the bound, whether the figure must be at least it)
Target = tuple[str, str, str, float, bool]
TARGETS: list[Target] = [
    ("ingest_rows_per_s", "sustained ingest, canonical rows/s", ">= 50,000", 50_000, True),
    (
        "ratio_to_peer",
        "ingest / the peer (Kafka Connect + Debezium JDBC sink)",
        f">= {PEER_MULTIPLE}",
        PEER_MULTIPLE,
        True,
    ),
    ("worker_rss_steady_mb", "memory of a worker, steady (MB)", "<= 300", 300, False),
    ("growth_ratio", "rows/s at 20M rows / at empty", "within 10 % (>= 0.90)", 0.9, True),
]
# Each mode's own ceiling: TimescaleDB against a binary COPY; plain PostgreSQL, whose exact
# rollups cost what a COPY does not, against the least any exactly-once write costs there.
MODE_TARGETS: dict[str, list[Target]] = {
    "timescaledb": [("ratio_to_copy", "ingest / binary COPY ceiling", ">= 0.50", 0.5, True)],
    "postgres": [
        (
            "ratio_to_idempotent_insert_alone",
            "ingest / idempotent insert of the rows alone",
            ">= 0.80",
            0.8,
            True,
        )
    ],
}

# References without Kafka or decoding, on one connection (bench/ingest.py, writes_alone).
ALONE = [
    ("idempotent_insert", "without Kafka: idempotent insert of the rows alone"),
    ("whole_write", "without Kafka: the worker's whole write alone"),
]


def _workers(count: int) -> str:
    if count == 1:
        return "one worker process"
    return f"{count} worker processes in one consumer group (one a core)"


MODE_TITLES = {
    "timescaledb": "TimescaleDB mode (hypertables, continuous aggregates)",
    "postgres": "plain PostgreSQL mode (monthly partitions, exact rollup tables)",
}


def _ingest(figures: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"## Ingest, {MODE_TITLES[figures['storage_mode']]}",
        "",
        _measured(figures),
        f"{figures['records']:,} mixed department records (all seven feeds, in their own formats) "
        f"pre-filled in the raw topics become {figures['rows']:,} canonical rows; "
        f"{_workers(figures.get('workers', 1))} consume them to committed offsets. The ceiling is "
        "a binary COPY of the same rows into the same (empty, partitioned, indexed) tables.",
        "",
        "| figure | value | target | met |",
        "|---|---:|---|---|",
    ]
    for key, label, target, bound, at_least in TARGETS + MODE_TARGETS[figures["storage_mode"]]:
        if key in figures:
            value = figures[key]
            met = value >= bound if at_least else value <= bound
            lines.append(f"| {label} | {value:,} | {target} | {'yes' if met else 'NO'} |")
    lines += [
        "",
        "| other figures | value |",
        "|---|---:|",
        f"| binary COPY ceiling, rows/s | {figures['copy_ceiling_rows_per_s']:,} |",
        f"| ingest / binary COPY ceiling | {figures['ratio_to_copy']} |",
        f"| memory of a worker, peak (MB) | {figures['worker_rss_peak_mb']:,} |",
    ]
    if "one_worker_rows_per_s" in figures:
        lines += [
            f"| one worker process alone, rows/s | {figures['one_worker_rows_per_s']:,} |",
            f"| one worker process alone / COPY ceiling | {figures['one_worker_ratio_to_copy']} |",
        ]
    if "peer_rows_per_s" in figures:
        used = figures["peer_cpu_us_per_row"]
        lines += [
            f"| the peer, rows/s (first row to last) | {figures['peer_rows_per_s']:,} |",
            "| CPU us a row during the peer's run: Connect, PostgreSQL, Kafka | "
            f"{used['connect']} + {used['postgres']} + {used['kafka']} |",
        ]
    if "cpu_us_per_row" in figures:
        used = figures["cpu_us_per_row"]
        lines += [
            "| CPU us a row during the ingest: workers, PostgreSQL, Kafka | "
            f"{used['workers']} + {used['postgres']} + {used['kafka']} |",
            f"| CPU us a row of PostgreSQL during the COPY ceiling | "
            f"{figures['copy_cpu_us_per_row_postgres']} |",
        ]
    for what, label in ALONE:
        if f"{what}_alone_rows_per_s" in figures:
            lines += [
                f"| {label}, rows/s | {figures[f'{what}_alone_rows_per_s']:,} |",
                f"| {label} / COPY ceiling | {figures[f'{what}_alone_ratio_to_copy']} |",
            ]
    if "ingest_rows_per_s_at_growth" in figures:
        lines.append(
            f"| ingest rows/s with {figures['table_rows_before_second_run']:,} rows already "
            f"stored | {figures['ingest_rows_per_s_at_growth']:,} |"
        )
    return lines + _limit(figures)


def _limit(figures: dict[str, Any]) -> list[str]:
    """Where the target multiple of the peer lies against this machine's CPU, from the same
    run's figures: the cores' microseconds a row at that rate, against the least any
    exactly-once pipeline spends (the idempotent insert alone, client and server on one
    connection, plus Kafka's share)."""
    needed = ("peer_rows_per_s", "cpu_us_per_row", "idempotent_insert_alone_rows_per_s")
    if not all(key in figures for key in needed):
        return []
    core_us = (os.cpu_count() or 1) * 1_000_000
    budget = core_us / (PEER_MULTIPLE * figures["peer_rows_per_s"])
    least = 1_000_000 / figures["idempotent_insert_alone_rows_per_s"]
    used = figures["cpu_us_per_row"]
    bound = core_us / (least + used["kafka"])
    return [
        "",
        f"| where {PEER_MULTIPLE}x the peer lies | value |",
        "|---|---:|",
        f"| the cores' CPU a row at {PEER_MULTIPLE}x the peer (us) | {budget:.1f} |",
        f"| the ingest's CPU a row: workers + PostgreSQL + Kafka (us) | {sum(used.values()):.1f} |",
        f"| the least an exactly-once write takes a row: the idempotent insert alone (us) | "
        f"{least:.1f} |",
        f"| the bound: the cores doing that write and Kafka's share only, rows/s | {bound:,.0f} |",
        f"| the bound / the peer | {bound / figures['peer_rows_per_s']:.2f} |",
        f"| ingest / the bound | {figures['ingest_rows_per_s'] / bound:.2f} |",
    ]


def _storage(figures: dict[str, Any]) -> list[str]:
    """One busy feed's 30-day series in each mode, and TimescaleDB's compression."""
    lines = [
        "",
        "## Series and compression",
        "",
        _measured(figures),
        f"{figures['description']} The series are read and rendered as the API answers them "
        f"(`GET /v1/indicators/{{id}}/series`'s query and JSON body, less HTTP), "
        f"{figures['repeats']} times each.",
        "",
        "| figure | mode | value | target | met |",
        "|---|---|---:|---|---|",
    ]
    target = figures.get("target_ms")
    for mode, measured in figures["modes"].items():
        if "year_rows" in measured:
            lines.append(
                f"| rows stored: 30 days / a year | {mode} | {measured['rows']:,} / "
                f"{measured['year_rows']:,} | | |"
            )
        for prefix, store in (("series", ""), ("year_series", ", store holding a year")):
            for interval in ("5m", "1h"):
                if f"{prefix}_{interval}_p99_ms" not in measured:
                    continue
                p50 = measured[f"{prefix}_{interval}_p50_ms"]
                p99 = measured[f"{prefix}_{interval}_p99_ms"]
                wanted, met = "", ""
                if target is not None:  # figures from before the target was set have none
                    wanted, met = f"p99 < {target:g}", "yes" if p99 < target else "NO"
                lines.append(
                    f"| 30-day series at {interval}{store}, p50 / p99 (ms) | {mode} | "
                    f"{p50} / {p99} | {wanted} | {met} |"
                )
        if "compression_ratio" in measured:
            ratio = measured["compression_ratio"]
            lines += [
                f"| bytes a sensor row before / after compression | {mode} | "
                f"{measured['bytes_per_row_before']} / {measured['bytes_per_row_after']} | | |",
                f"| compression ratio, sensor feeds | {mode} | {ratio} | >= 10x | "
                f"{'yes' if ratio >= 10 else 'NO'} |",
            ]
    return lines


def _sensorthings(figures: dict[str, Any]) -> list[str]:
    """One datastream's month paged through /sta/v1.0 on a 20M-row store, in each mode."""
    lines = [
        "",
        "## SensorThings: a datastream's month, page by page",
        "",
        _measured(figures),
        "One traffic camera's vehicle counts over 30 days, "
        f"`/sta/v1.0/Datastreams(id)/Observations?$filter=phenomenonTime ge ...&$orderby="
        f"phenomenonTime&$top={figures['top']}`, following `@iot.nextLink` to the end "
        f"{figures['repeats']} times, on a store of traffic cameras every 5 minutes, enough for "
        "20M rows, TimescaleDB's jobs paused after the bulk load (one API process, no key: the "
        "feed is public). Each page against the "
        "wall's "
        "budget, and against the same pages read by the API's repository on one connection "
        "without HTTP (the store's share).",
        "",
        "| figure | mode | value | target | met |",
        "|---|---|---:|---|---|",
    ]
    for mode, measured in figures["modes"].items():
        p99 = measured["page_p99_ms"]
        lines += [
            f"| rows stored | {mode} | {measured['rows']:,} | >= 20,000,000 | "
            f"{'yes' if measured['rows'] >= 20_000_000 else 'NO'} |",
            f"| a page, p99 (ms) | {mode} | {p99} | < 25 | {'yes' if p99 < 25 else 'NO'} |",
            f"| a page, p50 (ms) | {mode} | {measured['page_p50_ms']} | | |",
            f"| the month: {measured['observations']:,} observations in {measured['pages']} pages"
            f" (ms) | {mode} | {measured['month_ms']} | | |",
            f"| the store's share of a page, p50 / p99 (ms) | {mode} | "
            f"{measured['store_page_p50_ms']} / {measured['store_page_p99_ms']} | | |",
        ]
    return lines


def previous_sections(path: Path) -> dict[str, list[str]]:
    """The measured sections of the BENCHMARKS.md being replaced, by heading. The results behind
    them are not committed, so a bench not run again this time (in this clone) keeps the figures
    it last wrote, each section saying when they were measured."""
    sections: dict[str, list[str]] = {}
    heading = ""
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        if line.startswith("## "):
            heading = line
            sections[heading] = ["", heading]
        elif heading:
            sections[heading].append(line)
    return {heading: _strip_trailing_blanks(lines) for heading, lines in sections.items()}


def _strip_trailing_blanks(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def main() -> None:
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    previous = previous_sections(REPO_ROOT / "BENCHMARKS.md")

    def measured_or_kept(name: str, heading: str, section: Callable[[Any], list[str]]) -> list[str]:
        figures = read_figures(name)
        return section(figures) if figures is not None else previous.get(f"## {heading}", [])

    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/ingest.py` with `bench/peer.py`, `bench/storage.py`,",
        "`bench/http.py`, `bench/uploads.py`, `bench/api.py`, `bench/freshness.py`,",
        "`bench/sta.py`, then `bench/report.py`); every",
        "ratio is against a ceiling or a peer measured in the",
        "same run on the same machine, so the shared box's noise moves both sides. Do not edit by",
        "hand: run `make bench` again.",
        "",
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}, "
        f"{os.cpu_count()} cores, {memory_gib:.0f} GiB, Kafka, PostgreSQL and the worker side by "
        f"side; storage modes: {', '.join(MODE_TITLES)}. Each section says when its figures "
        "were measured: one bench can be run again alone, and a section whose bench did not run "
        "keeps its last figures.",
    ]
    for mode, title in MODE_TITLES.items():
        lines += measured_or_kept(f"ingest-{mode}", f"Ingest, {title}", _ingest)
    lines += measured_or_kept("storage", "Series and compression", _storage)
    lines += measured_or_kept("http", "HTTP push", _http)
    lines += measured_or_kept("uploads", "Spreadsheet uploads", _uploads)
    lines += measured_or_kept("api", "API for the wall", _api)
    lines += measured_or_kept("freshness", "Freshness: from a push's 202 to the wall", _freshness)
    lines += measured_or_kept(
        "sta", "SensorThings: a datastream's month, page by page", _sensorthings
    )
    notes = REPO_ROOT / "bench" / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text(encoding="utf-8").strip()]
    (REPO_ROOT / "BENCHMARKS.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("BENCHMARKS.md written")


def _http(http: dict[str, Any]) -> list[str]:
    """Pushes over HTTP against a bare producer."""
    rate, ratio = http["http_messages_per_s"], http["http_ratio_to_producer"]
    return [
        "",
        "## HTTP push",
        "",
        _measured(http),
        f"{http['messages']:,} salinity readings pushed to `POST /v1/feeds/salinity/messages` "
        "in batches of 500 by 32 concurrent clients (one API process, every message "
        "validated, 202 only after acks=all). The ceiling is a bare aiokafka producer "
        "(acks=all, idempotent) sending the same messages.",
        "",
        "| figure | value | target | met |",
        "|---|---:|---|---|",
        f"| messages/s accepted | {rate:,} | >= 20,000 | {'yes' if rate >= 20_000 else 'NO'} |",
        f"| HTTP / bare producer | {ratio} | >= 0.40 | {'yes' if ratio >= 0.4 else 'NO'} |",
        f"| latency p50 (ms) | {http['latency_p50_ms']} | | |",
        f"| latency p99 (ms) | {http['latency_p99_ms']} | | |",
        f"| bare producer ceiling, messages/s | {http['producer_ceiling_messages_per_s']:,} | | |",
    ]


def _uploads(uploads: dict[str, Any]) -> list[str]:
    """One large workbook uploaded, against the same rows pushed."""
    seconds, rate = uploads["upload_s"], uploads["upload_rows_per_s"]
    return [
        "",
        "## Spreadsheet uploads",
        "",
        _measured(uploads),
        f"One workbook of {uploads['rows']:,} salinity rows ({uploads['workbook_bytes']:,} "
        "bytes; date cells, number cells, the commune's code typed as a number) uploaded to "
        "`POST /v1/feeds/salinity/uploads`: seconds until its receipt, every row checked "
        "and acknowledged by the broker (one API process). Against the push path: the same "
        "rows as messages pushed by one client in batches of 500.",
        "",
        "| figure | value | target | met |",
        "|---|---:|---|---|",
        f"| seconds for {uploads['rows']:,} rows | {seconds} | < 10 | "
        f"{'yes' if seconds < 10 else 'NO'} |",
        f"| rows/s uploaded | {rate:,} | | |",
        f"| rows/s pushed (same rows, one client) | {uploads['push_rows_per_s']:,} | | |",
        f"| upload / push | {uploads['upload_ratio_to_push']} | | |",
        f"| API process memory, before / peak (MiB) | {uploads['api_rss_before_mib']} / "
        f"{uploads['api_peak_rss_mib']} | | |",
    ]


def _api(api: dict[str, Any]) -> list[str]:
    """The wall's polling against a trivial endpoint."""
    p99, ratio = api["load_p99_ms"], api["not_modified_ratio_to_trivial"]
    return [
        "",
        "## API for the wall",
        "",
        _measured(api),
        f"{api['displays']} simulated displays poll `GET /v1/indicators` every "
        f"{api['poll_s']:g} s with If-None-Match, each starting with a cold full fetch "
        "(one API process, the indicators of every department's examples). Then 304s back to "
        "back, against a trivial FastAPI endpoint (same uvicorn, same client) as the ceiling.",
        "",
        "| figure | value | target | met |",
        "|---|---:|---|---|",
        f"| p99 at that load (ms) | {p99} | < 25 | {'yes' if p99 < 25 else 'NO'} |",
        f"| 304s/s / trivial | {ratio} | >= 0.60 | {'yes' if ratio >= 0.6 else 'NO'} |",
        f"| requests/s at that load | {api['load_requests_per_s']:,} | | |",
        f"| p50 at that load (ms) | {api['load_p50_ms']} | | |",
        f"| cold full fetch p99 (ms) | {api['load_cold_p99_ms']} | | |",
        f"| 304s/s, one process | {api['not_modified_per_s']:,} | | |",
        f"| trivial endpoint ceiling, requests/s | {api['trivial_per_s']:,} | | |",
        f"| trivial endpoint p99 at the same load (ms) | {api['trivial_load_p99_ms']} | | |",
    ]


def _measured(figures: dict[str, Any]) -> str:
    return f"Measured {figures['measured_at']} UTC."


def _freshness(figures: dict[str, Any]) -> list[str]:
    load, half = figures["at_load"], figures["at_half_load"]
    p99 = load["freshness_p99_ms"]
    return [
        "",
        "## Freshness: from a push's 202 to the wall",
        "",
        _measured(figures),
        f"Under {load['load_messages_per_s']:,} salinity readings/s pushed in batches of 500, a "
        "probe pushes one reading four times a second, each a new highest salinity; the wall's "
        "poll of `salinity.max_ppt` (every 10 ms, If-None-Match) times how long after the "
        "probe's 202 the indicator shows it, and a poll of the store (every 10 ms) when its row "
        "is committed: the worker's share (its poll, batch and write), then the board's (the "
        "commit's notification, its refresh). One API process, a worker per core; then the "
        "same at half the load.",
        "",
        "| figure | value | target | met |",
        "|---|---:|---|---|",
        f"| p99 (ms), {load['probes']} probes | {p99} | < 1,000 | "
        f"{'yes' if p99 < 1000 else 'NO'} |",
        f"| p50 (ms) | {load['freshness_p50_ms']} | | |",
        f"| slowest (ms) | {load['freshness_max_ms']} | | |",
        f"| to the store, p50 / p99 (ms) | {load['stored_p50_ms']} / {load['stored_p99_ms']} | | |",
        "| from the store to the wall, p50 / p99 (ms) | "
        f"{load['store_to_wall_p50_ms']} / {load['store_to_wall_p99_ms']} | | |",
        f"| the machine's CPU busy | {load['cpu_busy_share']:.0%} | | |",
        f"| at half the load ({half['load_messages_per_s']:,}/s): p50 / p99 (ms) | "
        f"{half['freshness_p50_ms']} / {half['freshness_p99_ms']} | | |",
        "| at half the load: to the store, p99; from it to the wall, p99 (ms) | "
        f"{half['stored_p99_ms']}; {half['store_to_wall_p99_ms']} | | |",
        f"| at half the load: the machine's CPU busy | {half['cpu_busy_share']:.0%} | | |",
    ]


if __name__ == "__main__":
    main()

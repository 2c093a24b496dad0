"""`make bench` (spreadsheet uploads): a workbook of 50,000 salinity rows, typed as a clerk
types them (date cells, number cells, the commune's code as a number), uploaded in one
POST /v1/feeds/{feed}/uploads: seconds until its receipt (every row acknowledged by the
broker), rows/s, and the API process's peak memory; against the push path sending the same
messages from one client in batches of 500, in the same run.

    .venv/bin/python -m bench.uploads [--rows 50000]
"""

from __future__ import annotations

import argparse
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from openpyxl import Workbook

from bench import stack
from bench.ingest import log
from bench.results import write_figures
from services.common.feeds import load_feeds
from services.common.settings import REPO_ROOT

STATIONS = 100
PUSH_BATCH = 500
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["STT", "Mã trạm", "Thời gian", "Độ mặn (‰)", "Mực nước (cm)", "Mã xã/phường"]


def readings(rows: int) -> list[tuple[str, datetime, float, int]]:
    """Distinct series and times, recent enough for every bound (local wall times)."""
    start = (datetime.now(UTC) - timedelta(days=6)).astimezone(LOCAL).replace(tzinfo=None)
    start = start.replace(minute=0, second=0, microsecond=0)
    return [
        (
            f"B-{n % STATIONS:03d}",
            start + timedelta(minutes=15 * (n // STATIONS)),
            round(5 + (n % 300) / 10, 1),
            100 + n % 50,
        )
        for n in range(rows)
    ]


def workbook(rows: list[tuple[str, datetime, float, int]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Số liệu")
    sheet.append(["BÁO CÁO ĐỘ MẶN"])
    sheet.append(HEADER)
    for number, (station, at, salinity, level) in enumerate(rows, start=1):
        sheet.append([number, station, at, salinity, level, 32150])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def messages(rows: list[tuple[str, datetime, float, int]]) -> list[dict[str, Any]]:
    """The same rows as the department's own messages (what the upload makes of them)."""
    return [
        {
            "ma_tram": station,
            "thoi_gian": at.strftime("%d/%m/%Y %H:%M"),
            "do_man_phan_nghin": f"{salinity:g}".replace(".", ","),
            "muc_nuoc_cm": level,
            "xa_phuong_ma": "32150",
        }
        for station, at, salinity, level in rows
    ]


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmHWM for process {pid}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.uploads")
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    feeds = load_feeds(REPO_ROOT / "schemas")
    rows = readings(args.rows)
    content = workbook(rows)
    bodies = [
        json.dumps(batch, ensure_ascii=False).encode()
        for batch in (messages(rows[i : i + PUSH_BATCH]) for i in range(0, len(rows), PUSH_BATCH))
    ]
    stack.run_stack("up", "postgres", "kafka")
    try:
        env, _ = stack.services_on_their_own("uploads", feeds, **stack.UNLIMITED_PUSHES)
        port = stack.free_port()
        key = stack.issue_key(env, "--agency", "snnmt")
        url = f"http://127.0.0.1:{port}"
        api = ["-m", "services.cli", "api", "--port", str(port)]
        headers = {"Authorization": f"Bearer {key}"}
        with (
            stack.running(api, env, f"{url}/healthz") as process,
            httpx.Client(base_url=url, timeout=300, headers=headers) as http,
        ):
            before_mib = peak_rss_mib(process.pid)
            log(f"uploads: one workbook of {len(rows):,} rows ({len(content):,} bytes)")
            started = time.perf_counter()
            response = http.post(
                "/v1/feeds/salinity/uploads", files={"file": ("do-man.xlsx", content, XLSX)}
            )
            upload_s = time.perf_counter() - started
            if response.status_code != 202 or response.json()["accepted"] != len(rows):
                raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
            peak_mib = peak_rss_mib(process.pid)
            log(f"uploads: the same rows pushed in {len(bodies)} batches of {PUSH_BATCH}")
            started = time.perf_counter()
            for body in bodies:
                pushed = http.post(
                    "/v1/feeds/salinity/messages",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                if pushed.status_code != 202:
                    raise RuntimeError(f"{pushed.status_code}: {pushed.text[:300]}")
            push_s = time.perf_counter() - started
    finally:
        stack.run_stack("down", "kafka", "postgres")
    figures = {
        "rows": len(rows),
        "workbook_bytes": len(content),
        "upload_s": round(upload_s, 2),
        "upload_rows_per_s": round(len(rows) / upload_s),
        "push_rows_per_s": round(len(rows) / push_s),
        "upload_ratio_to_push": round(push_s / upload_s, 3),
        "api_rss_before_mib": before_mib,
        "api_peak_rss_mib": peak_mib,
    }
    write_figures("uploads", figures)


if __name__ == "__main__":
    main()

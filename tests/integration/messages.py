"""Department messages at a chosen moment, in the departments' own formats, for tests that
need data of a given age (fresh, late, stale)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def salinity_reading(at: datetime, salinity: str = "9,2", station: str = "CM-SAL-01") -> bytes:
    """A sluice station's reading: local wall time, decimal comma, water level in cm."""
    message = {
        "ma_tram": station,
        "thoi_gian": at.astimezone(LOCAL).strftime("%d/%m/%Y %H:%M"),
        "do_man_phan_nghin": salinity,
        "muc_nuoc_cm": 107,
        "xa_phuong_ma": "32150",
    }
    return json.dumps(message).encode()


def air_reading(at: datetime, station: str = "CM-AQ-01") -> bytes:
    """An air station's hourly reading: ISO 8601 with its offset, PM2.5 of 22.4 µg/m³."""
    message = {
        "station_id": station,
        "timestamp": at.astimezone(LOCAL).isoformat(timespec="seconds"),
        "pm25_ugm3": 22.4,
        "pm10_ugm3": 38.9,
        "no2_ugm3": 32.1,
        "vn_aqi": 47,
    }
    return json.dumps(message).encode()


def salinity_stream(count: int, *, start: datetime, prefix: str = "ST") -> tuple[list[bytes], int]:
    """``count`` readings of distinct series, keyed by station, and the sum of their ‰ values in
    tenths (a whole number: a checksum exact whatever order it is summed in).

    Times are real (the worker in a subprocess runs on the real clock): a minute apart per station
    from ``start``, which must lie inside the feed's backfill window.
    """
    messages, checksum = [], 0
    for n in range(count):
        station, step = n % 100, n // 100
        tenths = n % 600
        checksum += tenths
        moment = (start + timedelta(minutes=step)).astimezone(LOCAL)
        messages.append(
            json.dumps(
                {
                    "ma_tram": f"{prefix}-{station:03d}",
                    "thoi_gian": moment.strftime("%d/%m/%Y %H:%M"),
                    "do_man_phan_nghin": f"{tenths // 10},{tenths % 10}",
                    "muc_nuoc_cm": 100,
                    "xa_phuong_ma": "32150",
                }
            ).encode()
        )
    return messages, checksum

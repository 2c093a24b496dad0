"""How the ``ioc`` commands show things to a person: a moment in the province's zone with its
offset (never a bare clock reading), an age in words, a payload cut to one short line."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.common.province import ZONE


def moment(at: datetime | None, *, seconds: bool = False) -> str:
    """``2026-12-05 07:40 +07:00``: the province's local time and its offset; ``-`` for none."""
    if at is None:
        return "-"
    local = at.astimezone(ZONE)
    clock = f"{local:%Y-%m-%d %H:%M:%S}" if seconds else f"{local:%Y-%m-%d %H:%M}"
    return f"{clock} {local.isoformat()[-6:]}"


def age(span: timedelta | None) -> str:
    """``3d 4h``, ``2h 05m``, ``15m``, ``40s``: a span to its two largest units (the second left
    out when nought); ``-`` for none."""
    if span is None:
        return "-"
    seconds = int(span.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d" + (f" {hours}h" if hours else "")
    if hours:
        return f"{sign}{hours}h" + (f" {minutes:02d}m" if minutes else "")
    if minutes:
        return f"{sign}{minutes}m" + (f" {secs:02d}s" if secs else "")
    return f"{sign}{secs}s"


def short(text: str, width: int = 60) -> str:
    """One line of at most ``width`` characters: line breaks as spaces, the rest cut with …."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"

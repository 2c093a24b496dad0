"""All SQL of the units: the register of units (what the unit files say, for readers of the
store alone: Grafana's names and kinds), what scoring reads beside the feeds' window, and the
scorecards it keeps."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from services.api.units.scorecards import DayScores
from services.common.feeds import FeedDefinition
from services.common.units import Units

# One scoring at a time across every process (pg_advisory_xact_lock's key: "ioc-scor"); the
# reminders' evaluation takes it inside its own lock, the scoring loop alone.
SCORING_LOCK = 0x696F_632D_7363_6F72
SCORE_COLUMNS = tuple(DayScores.__dataclass_fields__)


async def record(connection: Any, units: Units) -> None:
    """The store's units become exactly the files' (several API processes starting at once
    write the same rows)."""
    rows = [(u.code, u.kind, u.name, u.name_en) for u in units.by_code.values()]
    async with connection.transaction():
        await connection.executemany(
            "INSERT INTO units (code, kind, name, name_en) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name,"
            " name_en = EXCLUDED.name_en",
            rows,
        )
        await connection.execute(
            "DELETE FROM units WHERE code <> ALL($1::text[])", [code for code, *_ in rows]
        )


async def newest_by_entity(
    connection: Any, feeds: Mapping[str, FeedDefinition]
) -> dict[str, dict[str, datetime]]:
    """Each entity's newest event time, for the feeds whose entities report for themselves."""
    names = [name for name, feed in feeds.items() if feed.reported_by == "entity"]
    rows = await connection.fetch(
        "SELECT feed, entity, max(ts) AS newest FROM latest WHERE feed = ANY($1::text[])"
        " GROUP BY feed, entity",
        names,
    )
    newest: dict[str, dict[str, datetime]] = {name: {} for name in names}
    for row in rows:
        newest[row["feed"]][row["entity"]] = row["newest"]
    return newest


# The scores that are means over the day's time; the task counts and what lags are as of the
# last evaluation.
TIME_WEIGHTED = (
    "correct",
    "sufficient",
    "clean",
    "live",
    "timeliness",
    "quarantine_ratio",
    "completion_rate",
    "score",
)


# This evaluation's interval, in seconds: since the one before (none before the migration:
# nothing to weigh the old row by, so the new one replaces it).
_SINCE_LAST = (
    "greatest(extract(epoch FROM EXCLUDED.evaluated_at"
    " - coalesce(unit_scores.evaluated_at, EXCLUDED.evaluated_at)), 0)"
)


def _weighted(column: str) -> str:
    """``column``'s mean over the time covered so far and this evaluation's interval; a score
    missing now (no data to judge) leaves the mean as it was."""
    old, new, w = f"unit_scores.{column}", f"EXCLUDED.{column}", _SINCE_LAST
    return (
        f"{column} = CASE WHEN {new} IS NULL THEN {old}"
        f" WHEN {old} IS NULL OR unit_scores.covered_s + {w} = 0 THEN {new}"
        f" ELSE ({old} * unit_scores.covered_s + {new} * {w}) / (unit_scores.covered_s + {w}) END"
    )


async def store_scores(
    connection: Any, day: date, starts: datetime, now: datetime, scores: Mapping[str, DayScores]
) -> None:
    """Adds this evaluation's scores to the day's (which ``starts``, in the province): each
    weighs the time since the evaluation before (since the day started, for the first)."""
    columns = ", ".join(SCORE_COLUMNS)
    values = ", ".join(f"${n}" for n in range(3, len(SCORE_COLUMNS) + 3))
    at, first = len(SCORE_COLUMNS) + 3, len(SCORE_COLUMNS) + 4
    updates = ", ".join(
        _weighted(c) if c in TIME_WEIGHTED else f"{c} = EXCLUDED.{c}" for c in SCORE_COLUMNS
    )
    covered = max((now - starts).total_seconds(), 0.0)
    await connection.executemany(
        f"INSERT INTO unit_scores AS unit_scores (unit, day, {columns}, evaluated_at, covered_s)"  # noqa: S608 - names are the dataclass's own
        f" VALUES ($1, $2, {values}, ${at}, ${first})"
        f" ON CONFLICT (unit, day) DO UPDATE SET {updates},"
        f" covered_s = unit_scores.covered_s + {_SINCE_LAST},"
        " evaluated_at = greatest(unit_scores.evaluated_at, EXCLUDED.evaluated_at),"
        " updated_at = now()",
        [
            (unit, day, *(getattr(s, c) for c in SCORE_COLUMNS), now, covered)
            for unit, s in scores.items()
        ],
    )


async def score_history(
    connection: Any, since: date, unit: str | None = None
) -> dict[str, dict[date, dict[str, Any]]]:
    rows = await connection.fetch(
        "SELECT * FROM unit_scores WHERE day >= $1 AND ($2::text IS NULL OR unit = $2)"
        " ORDER BY unit, day",
        since,
        unit,
    )
    history: dict[str, dict[date, dict[str, Any]]] = {}
    for row in rows:
        history.setdefault(row["unit"], {})[row["day"]] = {c: row[c] for c in SCORE_COLUMNS}
    return history

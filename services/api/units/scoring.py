"""Keeping the units' scorecards: one scoring reads the situation (the feeds' window, the
figures communes send themselves, the programme's tasks), judges each unit's moment
(``scorecards.py``, pure) and adds it to the day's stored scorecard, weighed by the time since
the scoring before. The API scores on its own schedule (``keep_scoring``), whether or not it
runs the reminders; their evaluation scores inside its own transaction (``score``), so the
causes are judged on this moment's figures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from services.api.feeds.window import read_window
from services.api.programme.repository import read_tasks
from services.api.quality.service import report_of
from services.api.units import repository
from services.api.units.scorecards import DayScores, scorecards_now
from services.api.units.situation import Situation
from services.common.db import DATABASE_UNAVAILABLE
from services.common.feeds import FeedDefinition
from services.common.province import day_start
from services.common.units import Units

log = logging.getLogger("ioc.units")
HISTORY_DAYS = 45  # the 30-day scores, and the ranking a week before


@dataclass(frozen=True, slots=True)
class Scored:
    situation: Situation  # its history read once this moment's scores were kept
    now: Mapping[str, DayScores]  # each unit's scores at this moment


async def read_situation(
    connection: Any, feeds: Mapping[str, FeedDefinition], units: Units, now: datetime
) -> Situation:
    window = await read_window(connection, feeds, now)
    report = report_of(feeds, now, window)
    return Situation(
        now=now,
        feeds=feeds,
        units=units,
        quality={f.feed: f for agency in report.agencies for f in agency.feeds},
        received=window.received,
        newest=window.newest,
        newest_by_entity=await repository.newest_by_entity(connection, feeds),
        tasks=await read_tasks(connection, feeds),
        history={},  # read once this moment's scores are kept (score)
    )


async def score(
    connection: Any, feeds: Mapping[str, FeedDefinition], units: Units, now: datetime
) -> Scored:
    """Scores every unit now and keeps it, in the caller's transaction; one scoring at a time
    across the processes (an advisory lock held to the transaction's end)."""
    await connection.execute("SELECT pg_advisory_xact_lock($1)", repository.SCORING_LOCK)
    situation = await read_situation(connection, feeds, units, now)
    scored = scorecards_now(situation)
    day = situation.today
    await repository.store_scores(connection, day, day_start(day), now, scored)
    history = await repository.score_history(connection, day - timedelta(days=HISTORY_DAYS))
    return Scored(replace(situation, history=history), scored)


async def keep_scoring(
    pool: Any,
    feeds: Mapping[str, FeedDefinition],
    units: Units,
    clock: Callable[[], datetime],
    every_s: float,
) -> None:
    while True:
        try:
            async with pool.acquire() as connection, connection.transaction():
                await score(connection, feeds, units, clock())
        except DATABASE_UNAVAILABLE as error:
            log.warning("units not scored: database unavailable (%r)", error)
        await asyncio.sleep(every_s)

"""All SQL of programme tasks: each task's attributes and its latest reported status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from services.api.programme.tasks import Task
from services.common.feeds import FeedDefinition


def task_feeds(feeds: Mapping[str, FeedDefinition]) -> list[str]:
    """The feeds of tasks: those naming a lead unit and a due date, with a status."""
    return [
        name
        for name, feed in feeds.items()
        if {"lead", "due"} <= set(feed.attributes) and any(m.name == "status" for m in feed.metrics)
    ]


async def read_tasks(connection: Any, feeds: Mapping[str, FeedDefinition]) -> tuple[Task, ...]:
    return await tasks_of(connection, task_feeds(feeds))


async def tasks_of(connection: Any, feeds: Sequence[str]) -> tuple[Task, ...]:
    rows = await connection.fetch(
        """
        SELECT e.feed, e.entity, e.attributes, l.text AS status, l.ts AS reported_at
        FROM entities e
        LEFT JOIN latest l ON l.feed = e.feed AND l.entity = e.entity AND l.metric = 'status'
        WHERE e.feed = ANY($1::text[])
        ORDER BY e.feed, e.entity
        """,
        list(feeds),
    )
    return tuple(
        Task(
            feed=row["feed"],
            task=row["entity"],
            title=str(row["attributes"].get("title", "")),
            lead=str(row["attributes"].get("lead", "")),
            due=_date(row["attributes"].get("due")),
            status=row["status"],
            reported_at=row["reported_at"],
            attributes=row["attributes"],
        )
        for row in rows
    )


def _date(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None  # not a date: the task has no usable due date, and says so by its None

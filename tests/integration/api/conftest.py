"""An API client over ASGI for each test, on the test's own database and topics."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime

import httpx
import pytest_asyncio

from services.api.app import create_app, utc_now
from services.api.settings import ApiSettings
from services.common.settings import CommonSettings

API_MAX_PAGE = 5  # small, so paging is exercised by few rows
PUSH_MAX_BYTES = 64 * 1024


def api_settings(settings: CommonSettings) -> ApiSettings:
    defaults = ApiSettings.from_env({})
    return replace(
        defaults,
        common=settings,
        # The reminders' and scorecards' own tests evaluate them; elsewhere their schedules would
        # only add noise.
        reminders=replace(defaults.reminders, enabled=False),
        scorecards=replace(defaults.scorecards, enabled=False),
        max_page=API_MAX_PAGE,
        push_max_bytes=PUSH_MAX_BYTES,
        broker_timeout_s=5.0,
    )


@contextlib.asynccontextmanager
async def serving(
    settings: ApiSettings, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app running with ``settings`` (its lifespan entered), over ASGI."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as client:
            yield client


@pytest_asyncio.fixture(loop_scope="session")
async def client(settings: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(api_settings(settings)) as client:
        yield client

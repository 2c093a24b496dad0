"""An API client over ASGI for each test, on the test's own database and topics."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest_asyncio

from services.api.app import create_app
from services.api.settings import ApiSettings
from services.common.settings import CommonSettings

API_MAX_PAGE = 5  # small, so paging is exercised by few rows
PUSH_MAX_BYTES = 64 * 1024


def api_settings(settings: CommonSettings) -> ApiSettings:
    defaults = ApiSettings.from_env({})
    return replace(
        defaults,
        common=settings,
        # The reminders' own tests evaluate them; elsewhere their schedule would only add noise.
        reminders=replace(defaults.reminders, enabled=False),
        max_page=API_MAX_PAGE,
        push_max_bytes=PUSH_MAX_BYTES,
        broker_timeout_s=5.0,
    )


@contextlib.asynccontextmanager
async def serving(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app running with ``settings`` (its lifespan entered), over ASGI."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as client:
            yield client


@pytest_asyncio.fixture(loop_scope="session")
async def client(settings: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(api_settings(settings)) as client:
        yield client

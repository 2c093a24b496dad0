"""The FastAPI application: resources open in ``lifespan``; routers are split by feature."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from services.api import docs_page, openapi
from services.api.console.endpoints import router as console_router
from services.api.dependencies import AppState
from services.api.errors import (
    ApiError,
    render_api_error,
    render_routing_error,
    render_validation_error,
)
from services.api.feed_templates.endpoints import router as feed_templates_router
from services.api.feeds.endpoints import router as feeds_router
from services.api.feeds.freshness import keep_freshness_published
from services.api.health.endpoints import router as health_router
from services.api.health.storage_jobs import keep_storage_jobs_published
from services.api.indicators.board import IndicatorBoard
from services.api.indicators.definitions import load_indicators
from services.api.indicators.endpoints import router as indicators_router
from services.api.indicators.kept_answers import KeptAnswers
from services.api.key_usage import KeyUsage, keep_writing_uses, write_uses
from services.api.mail.endpoints import router as mail_router
from services.api.metrics import RequestMetrics
from services.api.observations.endpoints import router as observations_router
from services.api.open_data.endpoints import router as open_data_router
from services.api.pages.endpoints import router as pages_router
from services.api.principals import PrincipalCache
from services.api.public_reads import PublicReads
from services.api.push import idempotency
from services.api.push.endpoints import router as push_router
from services.api.push.gateway import KafkaGateway
from services.api.push.rate_limit import RateLimiter
from services.api.quality.endpoints import router as quality_router
from services.api.rejections.endpoints import router as rejections_router
from services.api.reminders.delivery import keep_delivering
from services.api.reminders.endpoints import router as reminders_router
from services.api.reminders.evaluator import Reminding, check_register, keep_evaluating
from services.api.settings import ApiSettings
from services.api.sta.endpoints import router as sta_router
from services.api.sta.entities import catalogue
from services.api.stream.endpoints import router as stream_router
from services.api.stream.holds import StreamHolds
from services.api.units import repository as units_register
from services.api.units.endpoints import router as units_router
from services.api.units.scoring import keep_scoring
from services.api.upload_page.endpoints import router as upload_page_router
from services.api.uploads import service as uploads
from services.api.uploads.endpoints import router as uploads_router
from services.api.uploads.slots import UploadSlots
from services.api.wall.endpoints import router as wall_router
from services.common.db import create_pool
from services.common.feeds import load_feeds
from services.common.intake.feed_intake import FeedIntake
from services.common.logs import configure_logging
from services.common.systemd import notify

log = logging.getLogger("ioc.api")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _report_death(task: asyncio.Task[None]) -> None:
    """A background loop (freshness, indicators, scorecards, reminders) waits out database
    outages itself; one that ends otherwise is a bug, and says so loudly rather than leaving its
    figures to age quietly."""
    if not task.cancelled() and task.exception() is not None:
        log.critical(
            "background task %r died; restart the API", task.get_name(), exc_info=task.exception()
        )


def create_app(settings: ApiSettings, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        feeds = load_feeds(settings.common.schemas_dir)
        pool = await create_pool(settings.common.database_url, min_size=1, max_size=10)
        gateway = KafkaGateway(settings.common.kafka, timeout_s=settings.broker_timeout_s)
        indicators = load_indicators(settings.common.schemas_dir, feeds)
        reminding = Reminding.load(settings.common.schemas_dir, feeds, settings.reminders)
        await check_register(pool, reminding)  # no reminder left open under a rule now unknown
        async with pool.acquire() as connection:
            await units_register.record(connection, reminding.units)
        board = IndicatorBoard(pool, feeds, indicators, clock)
        key_usage = KeyUsage(clock)
        app.state.ioc = AppState(
            settings=settings,
            pool=pool,
            feeds=feeds,
            intakes={name: FeedIntake.of(feed) for name, feed in feeds.items()},
            gateway=gateway,
            rate_limiter=RateLimiter(settings.push_rate_per_s, settings.push_burst),
            indicators=indicators,
            clock=clock,
            board=board,
            principals=PrincipalCache(settings.key_cache_s),
            key_usage=key_usage,
            sensorthings=catalogue(feeds),
            units=reminding.units,
            reminding=reminding,
            stream_holds=StreamHolds(settings.stream_max_per_key),
            upload_slots=UploadSlots(settings.upload_concurrency),
            public_reads=PublicReads(
                settings.sta_public_connections,
                settings.sta_public_wait_s,
                settings.sta_public_timeout_s,
            ),
        )
        # What start-up allocated lives as long as the process: out of the collector's sight,
        # so its full collections (pauses in the wall's polls) stay short.
        gc.freeze()
        background = [
            asyncio.create_task(
                keep_freshness_published(pool, feeds, clock, settings.freshness_refresh_s),
                name="feed freshness",
            ),
            asyncio.create_task(
                keep_storage_jobs_published(pool, settings.storage_jobs_refresh_s),
                name="storage jobs",
            ),
            asyncio.create_task(
                board.keep_fresh(settings.indicator_refresh_s, settings.common.database_url),
                name="indicators",
            ),
            asyncio.create_task(
                idempotency.keep_purging(
                    pool, clock, settings.idempotency_kept, settings.idempotency_purge_every_s
                ),
                name="idempotency keys",
            ),
            asyncio.create_task(
                uploads.keep_purging(
                    pool, feeds, clock, settings.upload_kept, settings.upload_purge_every_s
                ),
                name="uploads kept",
            ),
            asyncio.create_task(
                keep_writing_uses(pool, key_usage, settings.key_usage_every_s), name="key uses"
            ),
        ]
        if settings.scorecards.enabled:  # /v1/units, whether or not reminders run here
            scoring = keep_scoring(pool, feeds, reminding.units, clock, settings.scorecards.every_s)
            background.append(asyncio.create_task(scoring, name="scorecards"))
        if settings.reminders.enabled:
            background += [
                asyncio.create_task(keep_evaluating(pool, reminding, clock), name="reminders"),
                asyncio.create_task(keep_delivering(pool, reminding, clock), name="deliveries"),
            ]
        for task in background:
            task.add_done_callback(_report_death)
        notify("READY=1", "STATUS=serving")
        try:
            yield
        finally:
            notify("STOPPING=1")
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await write_uses(pool, key_usage)  # the last minute's
            await gateway.close()
            await pool.close()

    app = FastAPI(
        title="IOC Stream",
        version="0.1.0",
        description="Department feeds in, up-to-date indicators out, for the IOC wall.",
        lifespan=lifespan,
        docs_url=None,  # docs_page: served from here, not a CDN
        redoc_url=None,
    )
    app.add_middleware(KeptAnswers)  # inner: the wall's polls, timed by the metrics around it
    app.add_middleware(RequestMetrics)
    app.add_exception_handler(ApiError, render_api_error)
    app.add_exception_handler(RequestValidationError, render_validation_error)
    app.add_exception_handler(HTTPException, render_routing_error)
    app.include_router(health_router)
    app.include_router(observations_router)
    app.include_router(rejections_router)
    app.include_router(push_router)
    app.include_router(uploads_router)
    app.include_router(indicators_router)
    app.include_router(feeds_router)
    app.include_router(quality_router)
    app.include_router(stream_router)
    app.include_router(pages_router)
    app.include_router(wall_router)
    app.include_router(upload_page_router)
    app.include_router(feed_templates_router)
    app.include_router(console_router)
    app.include_router(sta_router)
    app.include_router(open_data_router)
    app.include_router(units_router)
    app.include_router(reminders_router)
    app.include_router(mail_router)
    openapi.install(app, load_feeds(settings.common.schemas_dir))
    docs_page.install(app)
    return app


def app_from_env() -> FastAPI:
    """The factory each API process calls when ``ioc api`` runs several."""
    configure_logging()  # a process of its own: its logs as the parent's
    return create_app(ApiSettings.from_env())

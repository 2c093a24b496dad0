"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from services.api.dependencies import State
from services.api.errors import Unavailable
from services.api.metrics import exposition
from services.api.schemas import error_responses
from services.common.db import DATABASE_ERRORS, storage_mode
from services.common.storage_jobs import timescaledb_version

router = APIRouter(tags=["health"])
READY_ERRORS = error_responses(503)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses=READY_ERRORS)
async def readyz(state: State) -> dict[str, Any]:
    """The store answers and is migrated; names the storage mode and TimescaleDB's version
    (null in plain mode)."""
    try:
        async with state.pool.acquire(timeout=2) as connection:
            mode = await storage_mode(connection)
            version = await timescaledb_version(connection)
    except DATABASE_ERRORS as error:
        raise Unavailable(f"database unavailable: {error.__class__.__name__}") from None
    if mode is None:
        raise Unavailable("database not migrated: run `ioc migrate`")
    return {"status": "ready", "storage_mode": mode, "timescaledb_version": version}


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)

"""The ceiling of the API benchmark: a FastAPI app that answers a constant, served by the same
uvicorn as the API, so the ratio measures what the IOC API adds."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}

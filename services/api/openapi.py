"""The OpenAPI document, completed with what only the feed definitions know: the feed names and,
for pushes, each department's own message format with its real examples."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.common.feeds import FeedDefinition

PUSH_PATH = "/v1/feeds/{feed}/messages"
EXAMPLES_PER_FEED = 2


def install(app: FastAPI, feeds: dict[str, FeedDefinition]) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _name_the_feeds(schema, sorted(feeds))
            schema["paths"][PUSH_PATH]["post"]["requestBody"] = _push_body(feeds)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _name_the_feeds(schema: dict[str, Any], names: list[str]) -> None:
    for path, operations in schema["paths"].items():
        if "{feed}" not in path:
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "feed" and parameter["in"] == "path":
                    parameter["schema"] = {"type": "string", "enum": names, "title": "Feed"}


def _push_body(feeds: dict[str, FeedDefinition]) -> dict[str, Any]:
    examples = {name: _examples(feed) for name, feed in sorted(feeds.items())}
    return {
        "required": True,
        "description": "The department's own messages (see each feed's examples); at most "
        "IOC_PUSH_MAX_BYTES bytes and IOC_PUSH_MAX_MESSAGES messages.",
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"type": "object"}},
                "examples": {
                    name: {"summary": f"{name} ({feeds[name].agency})", "value": messages}
                    for name, messages in examples.items()
                },
            },
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "One JSON message per line"},
                "examples": {
                    name: {
                        "summary": f"{name} ({feeds[name].agency})",
                        "value": "\n".join(json.dumps(m, ensure_ascii=False) for m in messages),
                    }
                    for name, messages in examples.items()
                },
            },
        },
    }


def _examples(feed: FeedDefinition) -> list[Any]:
    lines = feed.examples_path.read_text(encoding="utf-8").splitlines()[:EXAMPLES_PER_FEED]
    return [json.loads(line) for line in lines]

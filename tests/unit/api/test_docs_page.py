"""``/docs`` works on a network with no way out: the page names only the API's own assets."""

from __future__ import annotations

import re

import httpx
import pytest

from services.api.app import create_app
from services.api.settings import ApiSettings


@pytest.mark.asyncio
async def test_the_docs_page_loads_swagger_ui_from_the_api_itself() -> None:
    app = create_app(ApiSettings.from_env({}))  # no lifespan: the page needs no store
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        loaded = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", page.text)
        urls = {url for pair in loaded for url in pair if url}
        assert urls == {
            "/docs/assets/swagger-ui-bundle.js",
            "/docs/assets/swagger-ui.css",
            "/docs/assets/favicon-32x32.png",
            "/openapi.json",
        }
        for url in urls - {"/openapi.json"}:
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 500, url
        assert (await client.get("/redoc")).status_code == 404

"""`/docs` and `/redoc` ask for nothing off the machine: no CDN logo, no validator badge.

Their CSP would block such a request anyway; these check that none is attempted (a
blocked image is still an error in the console and a broken picture)."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from api.docs_pages import REDOC_JS, REDOC_REMOTE_LOGO


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://t")


async def test_redoc_is_served_without_its_remote_logo(app: FastAPI) -> None:
    async with _client(app) as client:
        page = await client.get("/redoc")
        assert f'src="{REDOC_JS}"' in page.text
        bundle = await client.get(REDOC_JS)
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert len(bundle.content) > 500_000  # the whole bundle, not a stub
    assert REDOC_REMOTE_LOGO not in bundle.content
    assert b"https://cdn." not in bundle.content
    assert b'alt:"redocly logo",onError:()=>t(!1),src:"data:,"' in bundle.content


async def test_swagger_ui_has_no_validator_badge(app: FastAPI) -> None:
    async with _client(app) as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        assert re.search(r'"validatorUrl":\s*null', page.text), page.text
        assert '"persistAuthorization": true' in page.text
        bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert b"https://cdn." not in bundle.content

"""The API's documents: local assets only, a content security policy on every page.

`/docs` and `/redoc` must render offline (no CDN) and their policy must allow exactly
what they run; `/openapi.json` and errors carry the strict API policy.
"""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
from fastapi import FastAPI

from api.docs_pages import page_policy


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://t")


async def test_docs_pages_load_only_local_assets_under_a_policy(app: FastAPI) -> None:
    async with _client(app) as client:
        for path in ("/docs", "/redoc"):
            page = await client.get(path)
            assert page.status_code == 200
            html = page.text
            urls = re.findall(r'(?:src|href|spec-url)="([^"]+)"', html)
            assert urls, html
            assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
            assert "http://" not in html
            assert "https://" not in html
            for url in urls:
                if url.startswith("/docs/assets/"):
                    asset = await client.get(url)
                    assert asset.status_code == 200, url
                    assert len(asset.content) > 1000
            policy = page.headers["content-security-policy"]
            assert "default-src 'none'" in policy
            assert "script-src 'self'" in policy
            assert "frame-ancestors 'none'" in policy
            assert "unsafe-eval" not in policy
            for script in re.findall(r"<script>(.*?)</script>", html, re.DOTALL):
                digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
                assert f"'sha256-{digest}'" in policy


async def test_the_openapi_document_and_errors_carry_the_strict_policy(app: FastAPI) -> None:
    async with _client(app) as client:
        for path in ("/openapi.json", "/v1/me", "/v1/nope"):
            response = await client.get(path)
            assert response.headers["content-security-policy"] == (
                "default-src 'none'; frame-ancestors 'none'"
            ), path
            assert response.headers["x-content-type-options"] == "nosniff"
        missing = await client.get("/docs/assets/nope.js")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


def test_a_page_without_inline_scripts_allows_none() -> None:
    policy = page_policy('<script src="/docs/assets/x.js"></script>')
    assert "sha256" not in policy
    assert "'unsafe-inline'" not in policy.split("style-src")[0]

"""``/docs`` (Swagger UI) and ``/redoc`` from local assets, under a content security policy.

FastAPI's defaults load their scripts from a CDN, which renders a blank page offline and
would need the CDN in the policy. The assets come from the ``fastapi-offline`` wheel and
are served under ``/docs/assets``. Each page's policy allows scripts from this origin and
the page's own inline script by its SHA-256 hash; no other origin is reachable. Nor is
one asked for: Swagger UI's validator badge (an image from validator.swagger.io) is off,
and ReDoc's bundle is served with its one remote image (the Redocly logo, from its CDN)
replaced by an empty ``data:`` URL, which the bundle then hides.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

ASSETS = "/docs/assets"
OPENAPI_CSP = "default-src 'none'; frame-ancestors 'none'"
"""The policy of ``/openapi.json`` and every API response: a document that runs nothing."""

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
REDOC_REMOTE_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_JS = f"{ASSETS}/redoc.standalone.js"


def page_policy(html: str) -> str:
    """The CSP for one docs page: this origin, plus the page's inline scripts by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    return (
        "default-src 'none'; "
        f"script-src 'self' {hashes}; "
        # Swagger UI and ReDoc set style attributes from script.
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        "worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _page(response: HTMLResponse) -> HTMLResponse:
    html = bytes(response.body).decode()
    return HTMLResponse(html, headers={"Content-Security-Policy": page_policy(html)})


def install_docs(app: FastAPI, *, title: str, swagger_parameters: dict[str, Any]) -> None:
    """Serve the docs pages and their assets (call with ``docs_url=None, redoc_url=None``)."""
    static = files("fastapi_offline") / "static"
    # ReDoc without its remote logo; a route ahead of the assets mount, which has the rest.
    redoc_js = (static / "redoc.standalone.js").read_bytes().replace(REDOC_REMOTE_LOGO, b"data:,")

    async def redoc_bundle(_request: Request) -> Response:
        return Response(redoc_js, media_type="text/javascript")

    app.add_route(REDOC_JS, redoc_bundle, include_in_schema=False)
    app.mount(ASSETS, StaticFiles(directory=str(static)), "docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    swagger = _page(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            # No validator badge: it is an image from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None, **swagger_parameters},
        )
    )
    redoc = _page(
        get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=REDOC_JS,
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
    )

    async def swagger_page(_request: Request) -> HTMLResponse:
        return swagger

    async def redoc_page(_request: Request) -> HTMLResponse:
        return redoc

    app.add_route("/docs", swagger_page, include_in_schema=False)
    app.add_route("/redoc", redoc_page, include_in_schema=False)

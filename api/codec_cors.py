"""CORS for the payload codec endpoint: only the configured Temporal UI origin may call it.

The Temporal Web UI calls `/v1/tenants/{id}/codec/{encode,decode}` from the browser,
so those paths need CORS, but only for the UI's origin (`TREEFLOW_TEMPORAL_UI_URL`),
with credentials, and without widening CORS for the rest of the API. This wraps the
app outermost and hands codec paths to Starlette's `CORSMiddleware` configured for
that origin alone; other paths go straight on.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CODEC_PATH = re.compile(r"^/v1/tenants/[^/]+/codec/(?:encode|decode)$")


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL (None when it has no host)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


class CodecCors:
    """CORS for codec paths, allowing exactly `ui_origin` (with credentials)."""

    def __init__(self, app: ASGIApp, ui_origin: str | None) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=[ui_origin] if ui_origin else [],
            allow_methods=["POST"],
            allow_headers=["authorization", "content-type", "x-namespace"],
            allow_credentials=True,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and CODEC_PATH.match(scope.get("path", "")):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)

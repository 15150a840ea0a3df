"""Pure-ASGI middleware (cheap per request): request context, HTTPS, body size, IP limits.

Order, outermost first: uvicorn's `ProxyHeadersMiddleware` (only with trusted proxies)
-> :class:`RequestContext` (request id, client address, security headers, last-resort
500) -> :class:`HTTPSOnly` -> CORS -> :class:`IPRateLimit` -> audit -> :class:`BodySizeLimit`
-> routes.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import uuid
from typing import Any
from urllib.parse import quote

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.docs_pages import OPENAPI_CSP
from api.problems import PROBLEM_BASE, problem_response
from api.ratelimit import RateLimiter

log = logging.getLogger("treeflow.api")
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "treeflow_request_id", default=None
)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{8,128}$")
_DOC_PATHS = ("/docs", "/redoc", "/studio")  # pages that set their own policy
"""Pages that carry their own content security policy (``api.docs_pages``)."""
HEALTH_PATH = "/v1/health"
PLAIN_HTTP_PATHS = frozenset({HEALTH_PATH, "/healthz", "/readyz", "/metrics"})
"""Probes and scrapes reach these over plain HTTP inside the cluster."""
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def _problem(
    scope: Scope, status: int, kind: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """A problem+json answer of type ``PROBLEM_BASE + kind`` carrying the request id."""
    return problem_response(
        _state(scope).get("request_id"),
        status,
        detail=detail,
        type_=PROBLEM_BASE + kind,
        headers=headers,
    )


class RequestContext:
    """Request id, client address and scheme, security headers, and the last-resort 500.

    The client address and scheme are the scope's. ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` are believed only from ``TREEFLOW_TRUSTED_PROXIES``: uvicorn's
    `ProxyHeadersMiddleware` (outside this one, see api/app.py) rewrites the scope's
    client (the nearest untrusted hop, right to left) and scheme for those peers only.
    """

    def __init__(self, app: ASGIApp, *, hsts_max_age: int) -> None:
        self.app = app
        self._hsts = f"max-age={hsts_max_age}; includeSubDomains".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = b""
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                incoming = value
        request_id = incoming.decode("latin-1")
        if not _REQUEST_ID_RE.match(request_id):
            request_id = uuid.uuid4().hex
        client = scope.get("client")
        client_ip = client[0] if client else None
        secure = scope.get("scheme") == "https"
        state = _state(scope)
        state.update(request_id=request_id, client_ip=client_ip, secure=secure)
        token = request_id_var.set(request_id)
        docs = scope["path"].startswith(_DOC_PATHS)
        extra: list[tuple[bytes, bytes]] = [
            (b"x-request-id", request_id.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if not docs:
            extra.append((b"content-security-policy", OPENAPI_CSP.encode()))
        if secure:
            extra.append((b"strict-transport-security", self._hsts))
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                raw = list(message.get("headers", []))
                if not any(k.lower() == b"cache-control" for k, _ in raw):
                    raw.append((b"cache-control", b"no-store"))
                message["headers"] = raw + extra
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error (request id %s)", request_id)
            if started:
                raise
            detail = "internal error; quote the request id when reporting it"
            response = _problem(scope, 500, "internal", detail)
            await response(scope, receive, send_with_headers)
        finally:
            request_id_var.reset(token)


_PATH_SAFE = "/!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?%"


def https_target(scope: Scope) -> str:
    """The request's path and query, percent-encoded so a header can carry it.

    The path in the scope is decoded: ``%0d%0a`` or ``%00`` in the request line arrive
    as CR, LF and NUL, which no header value may hold (``Invalid HTTP header value``).
    Everything outside RFC 3986's path characters is escaped again, the query too.
    """
    path = quote(scope["path"], safe=_PATH_SAFE)
    query = quote(scope.get("query_string", b"").decode("latin-1"), safe=_QUERY_SAFE)
    return path + (f"?{query}" if query else "")


class HTTPSOnly:
    """Refuse plain HTTP (redirect safe methods to ``public_url``) unless dev mode is on.

    The probe and metrics paths stay reachable over HTTP for load balancers, kubelet
    probes and Prometheus (``PLAIN_HTTP_PATHS``).
    """

    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        self._public = public_url.replace("http://", "https://", 1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or _state(scope).get("secure")
            or scope["path"] in PLAIN_HTTP_PATHS
        ):
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD"):
            location = self._public + https_target(scope)
            response = _problem(scope, 308, "https-required", "use HTTPS", {"Location": location})
        else:
            response = _problem(scope, 403, "https-required", "this API only accepts HTTPS")
        await response(scope, receive, send)


class BodySizeLimit:
    """413 for bodies over ``max_bytes``, by ``Content-Length`` or while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            if not length.isdigit():
                await self._reject(scope, receive, send, 400, "invalid Content-Length")
                return
            if int(length) > self._max:
                await self._reject(scope, receive, send, 413, None)
                return
        if scope["method"] in _NO_BODY_METHODS:
            # Routes for these methods never read a body: nothing to count.
            await self.app(scope, receive, send)
            return
        seen = 0
        started = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal seen, rejected
            message = await receive()
            if message["type"] == "http.request" and not rejected:
                seen += len(message.get("body", b""))
                if seen > self._max:
                    # Answer now and tell the app the client went away; whatever it
                    # tries to send afterwards is dropped.
                    rejected = True
                    if not started:
                        await self._reject(scope, receive, send, 413, None)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)

    async def _reject(
        self, scope: Scope, receive: Receive, send: Send, status: int, detail: str | None
    ) -> None:
        kind = "too-large" if status == 413 else "bad-request"
        response = _problem(
            scope, status, kind, detail or f"request body larger than {self._max} bytes"
        )
        await response(scope, receive, send)


class BodyDeadline:
    """408 when a request body has not fully arrived ``seconds`` after the route asks for it.

    A trickled body (one byte every few seconds) otherwise holds a connection and a
    handler for as long as the client likes. The answer says ``Connection: close``.
    """

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self._seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _NO_BODY_METHODS:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        complete = started = timed_out = False

        async def timed_receive() -> Message:
            nonlocal deadline, complete, timed_out
            if complete or timed_out:
                return await receive() if complete else {"type": "http.disconnect"}
            if deadline is None:
                deadline = loop.time() + self._seconds
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                if not started:
                    detail = f"request body not received within {self._seconds:g} s"
                    late = _problem(scope, 408, "timeout", detail, {"Connection": "close"})
                    await late(scope, receive, send)
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if timed_out:
                return  # the 408 went out; the app's late answer is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, timed_receive, tracking_send)


class IPRateLimit:
    """Per-client-address limit on every request, authenticated or not."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, per_minute: int) -> None:
        self.app = app
        self._limiter = limiter
        self._limit = per_minute

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = _state(scope)
        ip = state.get("client_ip") or "unknown"
        retry = await self._limiter.hit(f"ip:{ip}", self._limit)
        if retry is None:
            await self.app(scope, receive, send)
            return
        seconds = max(1, int(retry + 0.999))
        state["rate_limit_scope"] = "ip"
        detail = f"rate limit exceeded; retry in {seconds} s"
        response = _problem(scope, 429, "rate-limited", detail, {"Retry-After": str(seconds)})
        await response(scope, receive, send)

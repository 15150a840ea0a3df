"""Pure-ASGI middleware (cheap per request): request context, HTTPS, body size, IP limits.

Order, outermost first: :class:`RequestContext` (request id, client address, security
headers, last-resort 500) -> :class:`HTTPSOnly` -> CORS -> :class:`IPRateLimit` -> audit
-> :class:`BodySizeLimit` -> routes.
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.docs_pages import OPENAPI_CSP
from api.problems import PROBLEM_BASE, problem_response
from api.ratelimit import RateLimiter
from api.settings import IPNetwork

log = logging.getLogger("treeflow.api")
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "treeflow_request_id", default=None
)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{8,128}$")
_DOC_PATHS = ("/docs", "/redoc")
"""Pages that carry their own content security policy (``api.docs_pages``)."""
HEALTH_PATH = "/v1/health"
PLAIN_HTTP_PATHS = frozenset({HEALTH_PATH, "/healthz", "/readyz", "/metrics"})
"""Probes and scrapes reach these over plain HTTP inside the cluster."""
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def _trusted(host: str | None, proxies: Sequence[IPNetwork]) -> bool:
    if not host or not proxies:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in proxies)


class RequestContext:
    """Request id, real client address and scheme, security headers, and the last-resort 500.

    ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed only from a trusted proxy.
    """

    def __init__(
        self, app: ASGIApp, *, trusted_proxies: Sequence[IPNetwork], hsts_max_age: int
    ) -> None:
        self.app = app
        self._proxies = list(trusted_proxies)
        self._hsts = f"max-age={hsts_max_age}; includeSubDomains".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = proto = forwarded = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                incoming = value.decode("latin-1")
            elif key == b"x-forwarded-proto":
                proto = value.decode("latin-1")
            elif key == b"x-forwarded-for":
                forwarded = value.decode("latin-1")
        request_id = incoming if incoming and _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        client = scope.get("client")
        client_ip = client[0] if client else None
        secure = scope.get("scheme") == "https"
        if (proto or forwarded) and _trusted(client_ip, self._proxies):
            if proto:
                secure = proto.split(",")[0].strip().lower() == "https"
            if forwarded:
                hops = [h.strip() for h in forwarded.split(",") if h.strip()]
                while hops and _trusted(hops[-1], self._proxies):
                    hops.pop()
                if hops:
                    client_ip = hops[-1]
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
            response = problem_response(
                request_id,
                500,
                detail="internal error; quote the request id when reporting it",
                type_=PROBLEM_BASE + "internal",
            )
            await response(scope, receive, send_with_headers)
        finally:
            request_id_var.reset(token)


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
        request_id = _state(scope).get("request_id")
        if scope["method"] in ("GET", "HEAD"):
            query = scope.get("query_string", b"").decode("latin-1")
            location = self._public + scope["path"] + (f"?{query}" if query else "")
            response = problem_response(
                request_id,
                308,
                detail="use HTTPS",
                type_=PROBLEM_BASE + "https-required",
                headers={"Location": location},
            )
        else:
            response = problem_response(
                request_id,
                403,
                detail="this API only accepts HTTPS",
                type_=PROBLEM_BASE + "https-required",
            )
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
        response = problem_response(
            _state(scope).get("request_id"),
            status,
            detail=detail or f"request body larger than {self._max} bytes",
            type_=PROBLEM_BASE + ("too-large" if status == 413 else "bad-request"),
        )
        await response(scope, receive, send)


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
        response = problem_response(
            state.get("request_id"),
            429,
            detail=f"rate limit exceeded; retry in {seconds} s",
            type_=PROBLEM_BASE + "rate-limited",
            headers={"Retry-After": str(seconds)},
        )
        await response(scope, receive, send)

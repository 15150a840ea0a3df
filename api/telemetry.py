"""Per-request observability: Prometheus metrics, the request's log context, access lines.

`RequestTelemetry` is pure ASGI and sits just inside `RequestContext` (which assigns
the request id). It counts every request by *route template* (`/v1/tenants/{tenant_id}`,
never the raw path, so ids never become labels), method and status, times it, tracks
in-flight requests, and counts rate-limit rejections and authentication failures by
the reason the guard or middleware left in the request state. While the request runs,
its log lines carry `request_id` (and `tenant_id`/`user_id` once the RBAC guard knows
them).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foundation.telemetry.logs import close_request_fields, get_logger, open_request_fields

log = get_logger("treeflow.api.access")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
UNMATCHED = "unmatched"
SLOW_SECONDS = 1.0


class ApiMetrics:
    """The API's metrics on an explicit registry (`/metrics` serves it)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "treeflow_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "treeflow_http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "treeflow_http_requests_in_flight",
            "HTTP requests being served.",
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "treeflow_rate_limit_rejections",
            "Requests refused by a rate limit, by scope (ip, principal, tenant, auth_failures).",
            ["scope"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "treeflow_auth_failures",
            "Refused authentication or authorization, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        for scope in ("ip", "principal", "tenant", "auth_failures"):
            self.rate_limited.labels(scope)
        for reason in AUTH_FAILURE_REASONS:
            self.auth_failures.labels(reason)

    def children(self, route: str, method: str, status: int) -> tuple[Any, Any]:
        """The request counter and latency histogram of one label set, looked up once.

        Routes are templates and methods and statuses are few, so the cache is bounded.
        """
        if method not in KNOWN_METHODS:
            method = "OTHER"  # clients choose methods: never let them choose label values
        key = (route, method, status)
        found = self._children.get(key)
        if found is None:
            labels = (route, method, str(status))
            found = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._children[key] = found
        return found


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
AUTH_FAILURE_REASONS = (
    "missing_credentials",
    "malformed_credentials",
    "invalid_token",
    "invalid_api_key",
    "forbidden",
)


def route_template(scope: Scope) -> str:
    """The matched route's path template, or `unmatched` (404s, rejected early)."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else UNMATCHED


class RequestTelemetry:
    """Metrics, log context and one access line per HTTP request."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics, access_log: str = "errors") -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        fields = open_request_fields(request_id=state.get("request_id"))
        status = 500
        started = time.perf_counter()
        metrics = self.metrics
        metrics.in_flight.inc()

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            elapsed = time.perf_counter() - started
            metrics.in_flight.dec()
            route = route_template(scope)
            requests, latency = metrics.children(route, scope["method"], status)
            requests.inc()
            latency.observe(elapsed)
            if status == 429:
                metrics.rate_limited.labels(state.get("rate_limit_scope") or "ip").inc()
            elif status in (401, 403):
                reason = state.get("auth_failure") or (
                    "forbidden" if status == 403 else "invalid_token"
                )
                metrics.auth_failures.labels(reason).inc()
            if self.access_log == "all" or (
                self.access_log == "errors" and (status >= 400 or elapsed > SLOW_SECONDS)
            ):
                log.info(
                    "http request",
                    method=scope["method"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            close_request_fields(fields)

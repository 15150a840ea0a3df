"""The worker's metrics and health port: `/metrics`, `/healthz`, `/readyz`.

uvicorn serves it inside the worker process, on the worker's event loop:
`prometheus_client`'s ASGI app answers `/metrics` (format negotiated from `Accept`)
and a small ASGI handler the two health paths. `/healthz` is liveness (the event loop
answers and the Temporal worker has not stopped); `/readyz` runs the readiness checks
and answers 503 only when one of them failed. GET and HEAD only; every answer is
`Cache-Control: no-store`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foundation.telemetry.health import HealthReport
from foundation.telemetry.logs import get_logger

log = get_logger("treeflow.worker.http")

Report = Callable[[], Awaitable[HealthReport]]
METRICS_PATH = "/metrics"
LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
_NO_STORE = (b"cache-control", b"no-store")


async def _plain(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), _NO_STORE],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TelemetryApp:
    """The ASGI app of the port: metrics, liveness, readiness, else 404/405."""

    def __init__(self, registry: CollectorRegistry, *, liveness: Report, readiness: Report):
        self._metrics: ASGIApp = make_asgi_app(registry, disable_compression=True)
        self._reports = {LIVENESS_PATH: liveness, READINESS_PATH: readiness}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan events to handle, no websockets to accept
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, b"method not allowed\n", b"text/plain")
        elif scope["path"] == METRICS_PATH:
            await self._metrics(scope, receive, _no_store(send))
        elif scope["path"] in self._reports:
            report = await self._reports[scope["path"]]()
            body = json.dumps(report.as_dict()).encode()
            await _plain(send, report.http_status, body, b"application/json")
        else:
            await _plain(send, 404, b"not found\n", b"text/plain")


def _no_store(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), _NO_STORE]
        await send(message)

    return sending


class _EmbeddedServer(uvicorn.Server):
    """uvicorn as a guest in the worker: the worker owns SIGINT/SIGTERM, not this server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class TelemetryServer:
    """Serves a Prometheus registry and liveness/readiness reports on one port."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        liveness: Report,
        readiness: Report,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.registry = registry
        self.app = TelemetryApp(registry, liveness=liveness, readiness=readiness)
        self.host = host
        self.port = port
        self._server: _EmbeddedServer | None = None
        self._serving: asyncio.Task[None] | None = None

    async def start(self) -> TelemetryServer:
        # Bound here, not by uvicorn, so port 0 is known before serving and a taken
        # port fails the start with the OS error instead of a log line and an exit.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, lifespan="off", log_config=None, access_log=False, server_header=False
        )
        self._server = _EmbeddedServer(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serving.done():
                await self._serving  # the server gave up: raise its error
                raise RuntimeError("the telemetry server stopped while starting")
            await asyncio.sleep(0.005)
        log.info("metrics and health on http://%s:%d", self.host, self.port)
        return self

    async def stop(self) -> None:
        server, serving = self._server, self._serving
        self._server = self._serving = None
        if server is not None and serving is not None:
            server.should_exit = True
            await serving

    async def __aenter__(self) -> TelemetryServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

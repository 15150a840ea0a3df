"""How the API process is served: uvicorn settings that bound slow and idle clients.

uvicorn bounds idle keep-alive connections (``timeout_keep_alive``) but not a request
still arriving: a client that sends one header byte every 2 s (slowloris) held its
connection for good, and so did one trickling a body the route never reads. This
module adds, per connection, a deadline for the request head (request line and
headers) and a cap on its size; :class:`api.middleware.BodyDeadline` bounds the body.
The front proxy (deploy/) should have its own, tighter timeouts; these hold without one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.problems import PROBLEM_BASE
from api.settings import Settings


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size cap on each request head.

    The deadline starts when a connection opens and again when the first byte of a
    next request arrives on a kept-alive one; it ends when the head is complete (the
    parser starts a new request cycle). Bytes that arrive after a response while no
    request is being read (a body the route never read, trickled in) count as head
    bytes too, so they cannot keep the connection open past the deadline either.
    """

    head_timeout: ClassVar[float] = 10.0
    max_head_bytes: ClassVar[int] = 32 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        reading_head = self.cycle is None or self.cycle.response_complete
        if reading_head:
            if self._head_deadline is None:
                self._arm_head_deadline()
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(431, "request head too large")
                return
        previous = self.cycle
        super().data_received(data)
        if self.cycle is not previous or self.transport.get_protocol() is not self:
            self._disarm_head_deadline()  # the head is complete (or upgraded to WebSocket)

    def _arm_head_deadline(self) -> None:
        self._head_bytes = 0
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.cycle is None or self.cycle.response_complete:
            self._refuse(408, f"request head not received within {self.head_timeout:g} s")

    def _refuse(self, status: int, detail: str) -> None:
        """Answer a bare problem+json (no app involved) and close the connection."""
        self._disarm_head_deadline()
        if self.transport.is_closing():
            return
        reason = {408: "Request Timeout", 431: "Request Header Fields Too Large"}[status]
        body = json.dumps(
            {
                "type": PROBLEM_BASE + ("timeout" if status == 408 else "too-large"),
                "title": reason,
                "status": status,
                "detail": detail,
            }
        ).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode()
        self.transport.write(head + body)
        self.transport.close()


def protocol_for(settings: Settings) -> type[BoundedHttpProtocol]:
    """The HTTP protocol class carrying these settings' head limits."""
    return type(
        "BoundedHttpProtocol",
        (BoundedHttpProtocol,),
        {
            "head_timeout": settings.http_header_timeout_seconds,
            "max_head_bytes": settings.http_max_header_bytes,
        },
    )


GRACEFUL_SHUTDOWN_SECONDS = 10
"""On SIGTERM, how long open responses may go on before they are cancelled. Without it
uvicorn waits for every connection, and a run event stream (api/run_streams.py) would
hold a stopping replica for as long as its client stays; cancelled streams resume on
another replica with `Last-Event-ID`."""


def server_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """A uvicorn config for the API with the slow-client bounds of ``settings``."""
    options.setdefault("timeout_graceful_shutdown", GRACEFUL_SHUTDOWN_SECONDS)
    return uvicorn.Config(
        app,
        http=protocol_for(settings),
        timeout_keep_alive=settings.http_keep_alive_seconds,
        **options,
    )

"""A run's events as a server-sent event stream, bounded per tenant and per client.

The events come from `temporal_client.run_events.follow_events` (Temporal alone), so
any replica serves any stream and `Last-Event-ID` resumes exactly on another one.
Each response holds one history long-poll and no database session. Bounds:

* open streams per tenant, per API process (`Settings.event_streams_per_tenant`,
  429 problem+json beyond it): the count lives in this process, so N replicas
  allow N times as many;
* a keep-alive comment every `Settings.event_stream_keepalive_seconds` of silence,
  so proxies keep the connection and a gone client is noticed;
* a client that does not read for `SEND_TIMEOUT_SECONDS` is dropped, and every stream
  ends after `Settings.event_stream_max_seconds` (clients reconnect with the last id);
* the stream's task ends when the client disconnects (the disconnect is watched
  while the stream waits, not only when the next write fails).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.sse import format_sse_event
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send
from temporalio.service import RPCError

from api.problems import PROBLEM_BASE, ProblemError
from temporal_client.run_events import Gap, Idle, RunUnreadable, StreamItem
from workflows.trail import RunEvent

SEND_TIMEOUT_SECONDS = 30.0
"""Longest one write to a client may block (a client that stopped reading)."""
RETRY_MILLISECONDS = 2000
"""The `retry:` hint sent first: how soon an EventSource reconnects."""
KEEPALIVE = b": keep-alive\n\n"


class StreamSlots:
    """Open event streams per tenant in this process."""

    def __init__(self, per_tenant: int) -> None:
        self.per_tenant = per_tenant
        self._open: Counter[str] = Counter()

    def open_count(self, tenant: str) -> int:
        return self._open[tenant]

    def acquire(self, tenant: str) -> Callable[[], None]:
        """Take a slot (429 problem when the tenant has none left); returns the release."""
        if self._open[tenant] >= self.per_tenant:
            raise ProblemError(
                429,
                f"this tenant already has {self.per_tenant} open event streams on this server",
                type_=PROBLEM_BASE + "too-many-streams",
                headers={"Retry-After": "5"},
            )
        self._open[tenant] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._open[tenant] -= 1
                if self._open[tenant] <= 0:
                    del self._open[tenant]

        return release


def stream_slots(app: FastAPI, per_tenant: int) -> StreamSlots:
    """The app's slot counter (one per app, so one per API process)."""
    slots: StreamSlots | None = getattr(app.state, "run_stream_slots", None)
    if slots is None:
        slots = app.state.run_stream_slots = StreamSlots(per_tenant)
    return slots


def encode(event: RunEvent) -> bytes:
    """One event in the SSE wire format: `id:` the ordinal, `event:` its type."""
    return format_sse_event(data_str=event.model_dump_json(), event=event.type, id=str(event.id))


async def sse_body(
    items: AsyncGenerator[StreamItem], *, keepalive_seconds: float, max_seconds: float
) -> AsyncGenerator[bytes]:
    """The stream's bytes: events, keep-alive comments, a note where events were dropped."""
    deadline = time.monotonic() + max_seconds
    last_write = time.monotonic()
    yield format_sse_event(retry=RETRY_MILLISECONDS, comment="run events")
    async with contextlib.aclosing(items):
        try:
            async for item in items:
                now = time.monotonic()
                if isinstance(item, RunEvent):
                    yield encode(item)
                    last_write = now
                elif isinstance(item, Gap):
                    dropped = f"{item.after + 1}-{item.resumed_at - 1}"
                    yield format_sse_event(comment=f"events {dropped} were dropped (bounded)")
                elif isinstance(item, Idle) and now - last_write >= keepalive_seconds * 0.9:
                    yield KEEPALIVE
                    last_write = now
                if now >= deadline:
                    yield format_sse_event(comment="stream time limit reached; reconnect")
                    return
        except (RunUnreadable, RPCError):
            # Temporal went away mid-stream: end it; the client reconnects with its last id.
            yield format_sse_event(comment="the run cannot be read now; reconnect later")


class EventStreamResponse(StreamingResponse):
    """`text/event-stream` that ends on disconnect, on a stalled client, and always
    gives its slot back."""

    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncGenerator[bytes],
        on_close: Callable[[], None],
        status_code: int = 200,
        **kwargs: Any,
    ) -> None:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(content, status_code=status_code, headers=headers, **kwargs)
        self._content = content
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def bounded_send(message: Any) -> None:
            with anyio.fail_after(SEND_TIMEOUT_SECONDS):
                await send(message)

        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    with contextlib.suppress(TimeoutError, OSError):
                        await self.stream_response(bounded_send)
                    group.cancel_scope.cancel()

                async def watch() -> None:
                    await self.listen_for_disconnect(receive)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                group.start_soon(watch)
        finally:
            self._on_close()
            with contextlib.suppress(Exception):
                await self._content.aclose()

"""The API's Temporal client: connected lazily, traced, shared by every request.

The API starts even when Temporal is down (readiness then says so); the first
caller that needs the client connects it. With tracing on, the client carries the
`TracingInterceptor`, so a workflow started inside a request continues the
request's trace (HTTP span -> StartWorkflow -> workflow -> activities).
"""

from __future__ import annotations

import asyncio

from opentelemetry.trace import Tracer
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor

from workflows.temporal_config import TemporalSettings

CONNECT_TIMEOUT_SECONDS = 3.0


class TemporalConnection:
    """One lazily connected client; failed connects are retried by the next caller."""

    def __init__(self, settings: TemporalSettings, *, tracer: Tracer | None = None) -> None:
        self.settings = settings
        self.tracer = tracer
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                interceptors = [TracingInterceptor(self.tracer)] if self.tracer else []
                self._client = await asyncio.wait_for(
                    Client.connect(**self.settings.connect_kwargs(), interceptors=interceptors),
                    CONNECT_TIMEOUT_SECONDS,
                )
        return self._client

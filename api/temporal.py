"""The API's connection to Temporal: one client per process, connected on first use.

With tracing on, the client carries the `TracingInterceptor`, so a workflow started
inside a request continues the request's trace (HTTP span -> StartWorkflow ->
workflow -> activities).
"""

from __future__ import annotations

import asyncio
import time

from opentelemetry.trace import Tracer
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.converter import PayloadCodec

from api.problems import PROBLEM_BASE, ProblemError
from temporal_client.connection import TemporalSettings


class TemporalGateway:
    """Lazily connects one shared client; a failed connect is retried on the next call.

    The API starts and serves auth, tenants and trees while Temporal is down; only
    run routes answer 503 until it is back (readiness says why).
    """

    def __init__(
        self,
        settings: TemporalSettings,
        *,
        tracer: Tracer | None = None,
        codec: PayloadCodec | None = None,
    ) -> None:
        self.settings = settings
        self.tracer = tracer
        self.codec = codec
        self._client: Client | None = None
        self._lock = asyncio.Lock()
        self._last_error: str | None = None
        self._retry_after = 0.0

    @property
    def last_error(self) -> str | None:
        return self._last_error

    async def client(self) -> Client:
        """The connected client, or a 503 problem if Temporal cannot be reached."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is not None:
                return self._client
            if time.monotonic() < self._retry_after:
                raise self._unavailable()
            interceptors = [TracingInterceptor(self.tracer)] if self.tracer else []
            try:
                self._client = await asyncio.wait_for(
                    Client.connect(
                        **self.settings.connect_kwargs(self.codec), interceptors=interceptors
                    ),
                    timeout=5,
                )
            except Exception as exc:  # connection errors of every kind: report, retry later
                self._last_error = f"{type(exc).__name__}: {exc}"[:300]
                self._retry_after = time.monotonic() + 1.0
                raise self._unavailable() from exc
            self._last_error = None
            return self._client

    def _unavailable(self) -> ProblemError:
        return ProblemError(
            503,
            "the workflow engine is unavailable; retry shortly",
            type_=PROBLEM_BASE + "temporal-unavailable",
            headers={"Retry-After": "1"},
        )

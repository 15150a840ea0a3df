"""Assemble a worker's observability from settings: metrics, tracing, runtime, probes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Interceptor, Worker

from foundation.telemetry.health import Check, HealthReport, run_checks
from foundation.telemetry.metrics import WorkerMetrics
from foundation.telemetry.tracing import TRACER_NAME, build_tracer_provider, instrument_httpx
from worker.telemetry.backlog import BacklogMetrics
from worker.telemetry.run_metrics import RunMetricsInterceptor

SERVICE_NAME = "treeflow-worker"


def temporal_runtime(bind_address: str | None) -> Runtime | None:
    """A Temporal runtime whose SDK metrics are served by Prometheus on `bind_address`.

    Counters end in `_total` and durations are seconds, like our own metrics.
    """
    if not bind_address:
        return None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=bind_address, counters_total_suffix=True, durations_as_seconds=True
            )
        )
    )


@dataclass
class WorkerTelemetry:
    """One worker process's registry, metrics, tracer provider and Temporal runtime."""

    metrics: WorkerMetrics
    backlog: BacklogMetrics
    tracer_provider: TracerProvider | None = None
    runtime: Runtime | None = None
    extra_checks: dict[str, Check] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        temporal_metrics_address: str | None = None,
        tracer_provider: TracerProvider | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> WorkerTelemetry:
        """Metrics always; tracing when `OTEL_*` asks for it (or a provider is given)."""
        metrics = WorkerMetrics(CollectorRegistry())
        provider = tracer_provider or build_tracer_provider(SERVICE_NAME, environ=environ)
        if provider is not None:
            instrument_httpx(provider)
        return cls(
            metrics=metrics,
            backlog=BacklogMetrics(metrics.registry),
            tracer_provider=provider,
            runtime=temporal_runtime(temporal_metrics_address),
        )

    @property
    def registry(self) -> CollectorRegistry:
        return self.metrics.registry

    @property
    def tracer(self) -> Tracer | None:
        if self.tracer_provider is None:
            return None
        return self.tracer_provider.get_tracer(TRACER_NAME)

    def client_options(self) -> dict[str, Any]:
        """`Client.connect` keyword arguments: the runtime and the tracing interceptor."""
        options: dict[str, Any] = {}
        if self.runtime is not None:
            options["runtime"] = self.runtime
        if self.tracer is not None:
            options["interceptors"] = [TracingInterceptor(self.tracer)]
        return options

    def worker_interceptors(self) -> list[Interceptor]:
        return [RunMetricsInterceptor(self.metrics.runs)]

    def tool_host_options(self) -> dict[str, Any]:
        return {"metrics": self.metrics.tools, "tracer": self.tracer}

    def checks(self, client: Client, worker: Worker) -> dict[str, Check]:
        """Readiness: the Temporal connection and the worker's polling state."""

        async def temporal() -> Any:
            healthy = await client.service_client.check_health(timeout=timedelta(seconds=2))
            return "ok" if healthy else ("failed", "Temporal answered not serving")

        async def polling() -> Any:
            if worker.is_running:
                return "ok"
            return ("failed", "worker is not running")

        return {"temporal": temporal, "worker": polling, **self.extra_checks}

    async def liveness(self, worker: Worker) -> HealthReport:
        async def alive() -> Any:
            return ("failed", "worker has shut down") if worker.is_shutdown else "ok"

        return await run_checks({"worker": alive})

    def shutdown(self) -> None:
        """Flush and stop span export."""
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()

"""An instrumented worker on its own queue: metrics, in-memory traces, health port, backlog."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client, WorkflowHandle

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from foundation.telemetry.health import run_checks
from foundation.telemetry.tracing import build_tracer_provider, uninstrument_httpx
from temporal_client.connection import TemporalSettings
from tests.support.observed_tools import OBSERVED_TOOLS
from tests.support.starting import start_compiled
from tests.support.tools import TEST_TOOLS
from treeflow.devserver import free_port
from worker.runner import build_worker
from worker.settings import WorkerSettings
from worker.telemetry.backlog import BacklogMonitor
from worker.telemetry.server import TelemetryServer
from worker.telemetry.setup import WorkerTelemetry
from worker.tool_versions import ToolVersionWatch
from workflows.compiler import compile_tree

OBSERVED_QUEUE = "tests-observed"


@dataclass
class Observed:
    """The instrumented worker and what it exports."""

    telemetry: WorkerTelemetry
    exporter: InMemorySpanExporter
    client: Client  # traced: starts carry the trace context
    registry: ToolRegistry
    queue: str
    base_url: str  # metrics/health port
    temporal_metrics_url: str

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        return self.telemetry.registry.get_sample_value(name, dict(labels or {})) or 0.0

    async def start(
        self, source: Any, inputs: Mapping[str, Any] | None = None, *, tenant: str
    ) -> WorkflowHandle[Any, Any]:
        compiled = compile_tree(source, self.registry)
        return await start_compiled(
            self.client, compiled, tenant=tenant, task_queue=self.queue, inputs=inputs
        )


@pytest.fixture(scope="session")
async def observed(temporal_settings: TemporalSettings) -> AsyncIterator[Observed]:
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider("treeflow-tests", exporter=exporter, batch=False)
    sdk_port = free_port()
    telemetry = WorkerTelemetry.build(
        tracer_provider=provider, temporal_metrics_address=f"127.0.0.1:{sdk_port}"
    )
    client = await Client.connect(
        **temporal_settings.connect_kwargs(), **telemetry.client_options()
    )
    registry = ToolRegistry.discover().add(TEST_TOOLS, OBSERVED_TOOLS)
    host = ToolHost(
        registry,
        config={"http_request": {"allowed_hosts": ["127.0.0.1"]}},
        **telemetry.tool_host_options(),
    )
    try:
        async with host.running():
            worker = build_worker(
                client,
                WorkerSettings(graceful_shutdown_seconds=1),
                OBSERVED_QUEUE,
                host,
                interceptors=telemetry.worker_interceptors(),
            )
            async with worker:
                checks = telemetry.checks(client, worker)
                server = TelemetryServer(
                    telemetry.registry,
                    liveness=lambda: telemetry.liveness(worker),
                    readiness=lambda: run_checks(checks),
                )
                monitor = BacklogMonitor(client, OBSERVED_QUEUE, telemetry.backlog, interval=1)
                monitor.start()
                watch = ToolVersionWatch(
                    client,
                    OBSERVED_QUEUE,
                    [definition.key for definition in registry],
                    telemetry.metrics.tool_versions,
                    interval=1,
                )
                watch.start()
                async with server:
                    yield Observed(
                        telemetry=telemetry,
                        exporter=exporter,
                        client=client,
                        registry=registry,
                        queue=OBSERVED_QUEUE,
                        base_url=f"http://127.0.0.1:{server.port}",
                        temporal_metrics_url=f"http://127.0.0.1:{sdk_port}/metrics",
                    )
                await monitor.stop()
                await watch.stop()
    finally:
        uninstrument_httpx()
        telemetry.shutdown()

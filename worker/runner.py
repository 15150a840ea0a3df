"""The worker process: hosts `DecisionTreeWorkflow` and every registered tool version."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import (
    Interceptor,
    PollerBehaviorSimpleMaximum,
    ResourceBasedSlotConfig,
    Worker,
    WorkerTuner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from activities.sdk import SecretResolver, no_secrets
from activities.secrets.resolver import store_resolver
from activities.tool_modules import build_registry
from foundation.secrets.settings import SecretsSettings
from foundation.telemetry.health import run_checks
from foundation.telemetry.logs import get_logger
from temporal_client.connection import TemporalSettings
from worker.settings import WorkerSettings
from worker.telemetry.backlog import BacklogMonitor
from worker.telemetry.server import TelemetryServer
from worker.telemetry.setup import WorkerTelemetry
from worker.tool_versions import ToolVersionWatch
from workflows.conversation import ConversationWorkflow
from workflows.tool_routing import version_queue
from workflows.workflow import DecisionTreeWorkflow

log = get_logger("treeflow.worker")


def registry_for(settings: WorkerSettings) -> ToolRegistry:
    """Built-in and entry-point tools, plus the modules named in `tool_modules`."""
    return build_registry(settings.tool_modules)


def build_worker(
    client: Client,
    settings: WorkerSettings,
    task_queue: str,
    host: ToolHost,
    *,
    extra_workflows: Sequence[type] = (),
    extra_activities: Sequence[Any] = (),
    interceptors: Sequence[Interceptor] = (),
) -> Worker:
    """A Temporal worker configured from settings. `host` must be started."""
    tuning: dict[str, Any] = {}
    if settings.tuner == "resource":
        tuning["tuner"] = WorkerTuner.create_resource_based(
            target_memory_usage=settings.target_memory_usage,
            target_cpu_usage=settings.target_cpu_usage,
            activity_config=ResourceBasedSlotConfig(
                minimum_slots=1, maximum_slots=settings.max_concurrent_activities
            ),
            workflow_config=ResourceBasedSlotConfig(
                minimum_slots=2, maximum_slots=settings.max_concurrent_workflow_tasks
            ),
        )
    else:
        tuning["max_concurrent_activities"] = settings.max_concurrent_activities
        tuning["max_concurrent_workflow_tasks"] = settings.max_concurrent_workflow_tasks
    return Worker(
        client,
        task_queue=task_queue,
        workflows=(
            [DecisionTreeWorkflow, ConversationWorkflow, *extra_workflows]
            if settings.run_workflows
            else []
        ),
        activities=[*host.activities(), *extra_activities] if settings.run_activities else [],
        identity=settings.identity or f"treeflow@{socket.gethostname()}:{os.getpid()}",
        max_cached_workflows=settings.max_cached_workflows,
        workflow_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.workflow_task_pollers),
        activity_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.activity_task_pollers),
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
        sticky_queue_schedule_to_start_timeout=timedelta(
            seconds=settings.sticky_queue_timeout_seconds
        ),
        max_activities_per_second=settings.max_activities_per_second,
        interceptors=list(interceptors),
        workflow_runner=workflow_runner(),
        **tuning,
    )


def build_version_workers(
    client: Client,
    settings: WorkerSettings,
    task_queue: str,
    host: ToolHost,
    *,
    interceptors: Sequence[Interceptor] = (),
) -> list[Worker]:
    """One activity-only worker per hosted tool version, on that version's own queue.

    Runs whose pinned version no worker hosted wait there (`workflows.tool_routing`);
    only workers hosting that exact version poll it, with one poller each, so an idle
    version queue costs one long poll. `host` must be started.
    """
    if not settings.run_activities:
        return []
    identity = settings.identity or f"treeflow@{socket.gethostname()}:{os.getpid()}"
    return [
        Worker(
            client,
            task_queue=version_queue(task_queue, definition.key),
            activities=[host.activity_for(definition)],
            identity=identity,
            activity_task_poller_behavior=PollerBehaviorSimpleMaximum(1),
            max_concurrent_activities=settings.max_concurrent_activities,
            graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
            interceptors=list(interceptors),
        )
        for definition in host.registry
    ]


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox, with Treeflow's own `workflows` package passed through.

    The sandbox re-imports a workflow's module for every run; for the interpreter that
    meant re-running its decorators (handler definitions, type hints) per run, which
    cost ~10% of a short run's wall time (bench/overhead.py: 1.10 -> 1.06). The
    package is pure by construction (no I/O, no clock, no module state; checked by
    tests/test_architecture.py), and every change is checked against recorded
    histories with the Replayer, which is what protects determinism here. Other
    workflows registered on the worker stay fully sandboxed.
    """
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows")
    )


async def run_worker(
    settings: WorkerSettings | None = None,
    temporal: TemporalSettings | None = None,
    *,
    registry: ToolRegistry | None = None,
    secrets: SecretResolver | None = None,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    handle_signals: bool = True,
    telemetry: WorkerTelemetry | None = None,
    secrets_settings: SecretsSettings | None = None,
) -> None:
    """Run a worker until `stop` is set or SIGTERM/SIGINT arrives, then drain gracefully.

    On a stop signal the worker stops polling, lets running tools finish for up to
    `graceful_shutdown_seconds` (then cancels them; Temporal retries them elsewhere),
    and shuts class-based tools down. Secrets come from `secrets`, else from the
    API's secret store as configured by `TREEFLOW_*` (see `SecretsSettings`).

    Observability comes from `telemetry` (default: built from the environment):
    run, tool and LLM metrics, traces when `OTEL_*` configures export, and, with
    `metrics_port`, the /metrics, /healthz and /readyz port plus backlog gauges.
    """
    settings = settings or WorkerSettings()
    temporal = temporal or TemporalSettings()
    registry = registry or registry_for(settings)
    stop = stop or asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    telemetry = telemetry or WorkerTelemetry.build(
        temporal_metrics_address=(
            f"{settings.metrics_host}:{settings.temporal_metrics_port}"
            if settings.temporal_metrics_port
            else None
        )
    )
    try:
        # Payload encryption and its keys: `secrets_settings`, else TREEFLOW_* (as the API).
        codec = (secrets_settings or SecretsSettings()).payload_codec()
        client = await Client.connect(
            **temporal.connect_kwargs(codec), **telemetry.client_options()
        )
        async with contextlib.AsyncExitStack() as cleanup:
            if secrets is None:
                secrets = no_secrets
                built = SecretsSettings().build_store()
                if built is not None:
                    store, engine = built
                    secrets = store_resolver(store)
                    if engine is not None:
                        cleanup.push_async_callback(engine.dispose)
            await _serve(client, settings, temporal, registry, secrets, stop, ready, telemetry)
    finally:
        telemetry.shutdown()
    log.info("worker stopped")


async def _serve(
    client: Client,
    settings: WorkerSettings,
    temporal: TemporalSettings,
    registry: ToolRegistry,
    secrets: SecretResolver,
    stop: asyncio.Event,
    ready: asyncio.Event | None,
    telemetry: WorkerTelemetry,
) -> None:
    host = ToolHost(
        registry, config=settings.tool_config, secrets=secrets, **telemetry.tool_host_options()
    )
    async with host.running(), contextlib.AsyncExitStack() as stack:
        hosting = (client, settings, temporal.task_queue, host)
        worker = build_worker(*hosting, interceptors=telemetry.worker_interceptors())
        await stack.enter_async_context(worker)
        for version_worker in build_version_workers(
            *hosting, interceptors=telemetry.worker_interceptors()
        ):
            await stack.enter_async_context(version_worker)
        watch = ToolVersionWatch(
            client,
            temporal.task_queue,
            [definition.key for definition in registry],
            telemetry.metrics.tool_versions,
            interval=settings.backlog_poll_seconds,
        )
        scan = asyncio.create_task(watch.report_at_startup(), name="treeflow-startup-scan")
        stack.push_async_callback(_cancelled, scan)
        if settings.metrics_port is not None:
            checks = {**telemetry.checks(client, worker), "tool_versions": watch.check}
            watch.start()
            stack.push_async_callback(watch.stop)
            server = TelemetryServer(
                telemetry.registry,
                liveness=lambda: telemetry.liveness(worker),
                readiness=lambda: run_checks(checks),
                host=settings.metrics_host,
                port=settings.metrics_port,
            )
            await stack.enter_async_context(server)
            if settings.backlog_poll_seconds > 0:
                monitor = BacklogMonitor(
                    client,
                    temporal.task_queue,
                    telemetry.backlog,
                    interval=settings.backlog_poll_seconds,
                )
                monitor.start()
                stack.push_async_callback(monitor.stop)
        log.info(
            "worker polling %s on %s with %d tool versions",
            temporal.task_queue,
            temporal.address,
            len(registry),
        )
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stop requested: draining (grace %ss)", settings.graceful_shutdown_seconds)


async def _cancelled(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

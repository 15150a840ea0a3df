"""The worker process: hosts `DecisionTreeWorkflow` and every registered tool version."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import socket
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import (
    PollerBehaviorSimpleMaximum,
    ResourceBasedSlotConfig,
    Worker,
    WorkerTuner,
)

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from activities.sdk import SecretResolver, no_secrets
from activities.secrets.resolver import SecretsSettings, store_resolver
from worker.settings import WorkerSettings
from workflows.interpreter import DecisionTreeWorkflow
from workflows.temporal_config import TemporalSettings

log = logging.getLogger("treeflow.worker")


def registry_for(settings: WorkerSettings) -> ToolRegistry:
    """Built-in and entry-point tools, plus the modules named in `tool_modules`."""
    registry = ToolRegistry.discover()
    for reference in settings.tool_modules:
        module_name, _, attribute = reference.partition(":")
        module = importlib.import_module(module_name)
        registry.add(getattr(module, attribute) if attribute else module)
    return registry


def build_worker(
    client: Client,
    settings: WorkerSettings,
    task_queue: str,
    host: ToolHost,
    *,
    extra_workflows: Sequence[type] = (),
    extra_activities: Sequence[Any] = (),
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
        workflows=[DecisionTreeWorkflow, *extra_workflows] if settings.run_workflows else [],
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
        **tuning,
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
) -> None:
    """Run a worker until `stop` is set or SIGTERM/SIGINT arrives, then drain gracefully.

    On a stop signal the worker stops polling, lets running tools finish for up to
    `graceful_shutdown_seconds` (then cancels them; Temporal retries them elsewhere),
    and shuts class-based tools down. Secrets come from `secrets`, else from the
    API's secret store as configured by `TREEFLOW_*` (see `SecretsSettings`).
    """
    settings = settings or WorkerSettings()
    temporal = temporal or TemporalSettings()
    registry = registry or registry_for(settings)
    stop = stop or asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    client = await Client.connect(**temporal.connect_kwargs())
    async with contextlib.AsyncExitStack() as cleanup:
        if secrets is None:
            secrets = no_secrets
            built = SecretsSettings().build_store()
            if built is not None:
                store, engine = built
                secrets = store_resolver(store)
                if engine is not None:
                    cleanup.push_async_callback(engine.dispose)
        await _serve(client, settings, temporal, registry, secrets, stop, ready)
    log.info("worker stopped")


async def _serve(
    client: Client,
    settings: WorkerSettings,
    temporal: TemporalSettings,
    registry: ToolRegistry,
    secrets: SecretResolver,
    stop: asyncio.Event,
    ready: asyncio.Event | None,
) -> None:
    host = ToolHost(registry, config=settings.tool_config, secrets=secrets)
    async with host.running():
        worker = build_worker(client, settings, temporal.task_queue, host)
        async with worker:
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

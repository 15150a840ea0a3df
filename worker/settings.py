"""Worker settings: task queue, concurrency, tuning and tool configuration."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    """`TREEFLOW_WORKER_*` environment variables (task queue comes from Temporal settings)."""

    model_config = SettingsConfigDict(env_prefix="TREEFLOW_WORKER_", extra="ignore")

    identity: str | None = Field(default=None, description="Shown in Temporal; default host+pid.")
    run_workflows: bool = Field(default=True, description="Poll workflow tasks.")
    run_activities: bool = Field(default=True, description="Poll activity (tool) tasks.")
    tuner: Literal["fixed", "resource"] = "fixed"
    max_concurrent_activities: int = Field(default=100, ge=1)
    max_concurrent_workflow_tasks: int = Field(default=100, ge=1)
    max_cached_workflows: int = Field(default=1000, ge=0)
    workflow_task_pollers: int = Field(default=5, ge=1)
    activity_task_pollers: int = Field(default=5, ge=1)
    target_memory_usage: float = Field(default=0.8, gt=0, le=1)
    target_cpu_usage: float = Field(default=0.9, gt=0, le=1)
    graceful_shutdown_seconds: float = Field(default=30.0, ge=0)
    max_activities_per_second: float | None = None
    tool_modules: list[str] = Field(
        default_factory=list,
        description="Extra tools to host, as 'package.module' or 'package.module:ATTRIBUTE' "
        "(for tools not published under the treeflow.tools entry point group).",
    )
    sticky_queue_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a run's next task waits for this worker before any worker "
        "may take it (lower it to recover faster from crashed workers).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve /metrics, /healthz and /readyz on this port (0: any free port).",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address of the metrics/health port (0.0.0.0 in a container).",
    )
    temporal_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve the Temporal SDK's own metrics (Prometheus) on this port.",
    )
    backlog_poll_seconds: float = Field(
        default=15.0,
        ge=0,
        description="Poll the task queue's backlog this often for the metrics port (0: never).",
    )
    tool_config: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='Per-tool settings as JSON, e.g. {"http_request": {"allowed_hosts": [...]}}; '
        'a "defaults" entry is merged under every tool\'s own (e.g. a shared "llm" or '
        '"retrieval"), "declarative_http" configures tenants\' HTTP tools.',
    )

"""Treeflow's business metrics (runs, tools, decisions, LLM usage) on an explicit registry.

Every metric is created on the `CollectorRegistry` passed in, never on the
process-global default registry, so tests and embedded stacks can hold several
independent sets. Label values that come from users (tenant, tree) pass through a
`BoundedLabel`, which keeps at most `limit` distinct values per label and folds
the rest into `"other"`: a series count that cannot grow without bound. Run ids
are never labels.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

OTHER = "other"
DEFAULT_LABEL_LIMIT = 200

RUN_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600, 14400, 86400)
TOOL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class BoundedLabel:
    """Passes the first `limit` distinct values of a label, then answers `"other"`."""

    def __init__(self, limit: int = DEFAULT_LABEL_LIMIT) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        value = value or "unknown"
        if value in self._seen:
            return value
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen.add(value)
            return value


class RunMetrics:
    """Runs started/completed/failed/cancelled by tenant and tree, and their duration."""

    def __init__(self, registry: CollectorRegistry, *, label_limit: int = DEFAULT_LABEL_LIMIT):
        self.tenant = BoundedLabel(label_limit)
        self.tree = BoundedLabel(label_limit)
        self.started = Counter(
            "treeflow_runs_started",
            "Runs that started executing (top-level runs; not continue-as-new generations).",
            ["tenant", "tree"],
            registry=registry,
        )
        self.completed = Counter(
            "treeflow_runs_completed",
            "Runs that completed, by outcome (completed, limit_reached, ended, impossible).",
            ["tenant", "tree", "outcome"],
            registry=registry,
        )
        self.failed = Counter(
            "treeflow_runs_failed", "Runs that failed.", ["tenant", "tree"], registry=registry
        )
        self.cancelled = Counter(
            "treeflow_runs_cancelled",
            "Runs that were cancelled.",
            ["tenant", "tree"],
            registry=registry,
        )
        self.duration = Histogram(
            "treeflow_run_duration_seconds",
            "Wall time from a run's start to its close, by tree and status.",
            ["tree", "status"],
            buckets=RUN_BUCKETS,
            registry=registry,
        )
        self.decisions = Counter(
            "treeflow_decisions",
            "Decisions taken by runs, by strategy (rules, router, llm, limit).",
            ["strategy"],
            registry=registry,
        )

    def run_started(self, tenant: str, tree: str) -> None:
        self.started.labels(self.tenant(tenant), self.tree(tree)).inc()

    def run_closed(
        self, tenant: str, tree: str, status: str, outcome: str | None, seconds: float
    ) -> None:
        """`status` is completed, failed or cancelled; `outcome` qualifies completed runs."""
        labels = (self.tenant(tenant), self.tree(tree))
        if status == "completed":
            self.completed.labels(*labels, outcome or "completed").inc()
        elif status == "failed":
            self.failed.labels(*labels).inc()
        else:
            self.cancelled.labels(*labels).inc()
        self.duration.labels(labels[1], status).observe(max(seconds, 0.0))

    def decision(self, strategy: str) -> None:
        self.decisions.labels(strategy).inc()


class ToolMetrics:
    """Tool executions and their duration by `tool@version` and outcome; LLM usage."""

    OUTCOMES = (
        "ok",
        "retryable_error",
        "non_retryable_error",
        "invalid_input",
        "invalid_output",
        "cancelled",
        "error",
    )

    def __init__(self, registry: CollectorRegistry, *, label_limit: int = DEFAULT_LABEL_LIMIT):
        self.tenant = BoundedLabel(label_limit)
        self.model = BoundedLabel(label_limit)
        self.tool = BoundedLabel(label_limit * 5)
        self._tool_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.executions = Counter(
            "treeflow_tool_executions",
            "Tool (activity) attempts by tool@version and outcome.",
            ["tool", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "treeflow_tool_duration_seconds",
            "Duration of one tool attempt by tool@version and outcome.",
            ["tool", "outcome"],
            buckets=TOOL_BUCKETS,
            registry=registry,
        )
        self.llm_tokens = Counter(
            "treeflow_llm_tokens",
            "LLM tokens reported in tool results' `usage`, by tenant, model and kind.",
            ["tenant", "model", "kind"],
            registry=registry,
        )
        self.llm_cost = Counter(
            "treeflow_llm_cost_usd",
            "LLM cost in US dollars reported in tool results' `usage`, by tenant and model.",
            ["tenant", "model"],
            registry=registry,
        )

    def tool_finished(self, tool: str, outcome: str, seconds: float) -> None:
        key = (self.tool(tool), outcome)
        children = self._tool_children.get(key)
        if children is None:  # labels() costs a lock and a lookup; bounded by the labels
            children = self.executions.labels(*key), self.duration.labels(*key)
            self._tool_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def llm_usage(self, tenant: str, output: Mapping[str, Any]) -> None:
        """Count the LLM usage a tool reported in its result (see `usage_records`)."""
        tenant_label = self.tenant(tenant)
        for record in usage_records(output):
            model = self.model(str(record.get("model") or "unknown"))
            for kind in ("prompt", "completion"):
                count = _number(record.get(f"{kind}_tokens"))
                if count > 0:
                    self.llm_tokens.labels(tenant_label, model, kind).inc(count)
            cost = _number(record.get("cost_usd"))
            if cost > 0:
                self.llm_cost.labels(tenant_label, model).inc(cost)


def usage_records(output: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The per-call usage records in a tool result, read generically.

    A result may carry `usage` as `{"calls": [{"model", "prompt_tokens",
    "completion_tokens", "cost_usd", ...}], ...}` (one record per model call) or as
    one flat record with the same keys. Anything else means no usage.
    """
    usage = output.get("usage")
    if not isinstance(usage, Mapping) or not usage:
        return []
    calls = usage.get("calls")
    if isinstance(calls, list):
        return [call for call in calls if isinstance(call, Mapping)]
    return [usage]


def usage_totals(output: Mapping[str, Any]) -> dict[str, int]:
    """Prompt and completion tokens over every usage record of a tool result."""
    totals = {"prompt": 0, "completion": 0}
    records = usage_records(output)
    for record in records:
        for kind in totals:
            totals[kind] += int(_number(record.get(f"{kind}_tokens")))
    return totals if records else {}


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


class ToolVersionMetrics:
    """Runs pinned to tool versions the fleet (or this worker) does not host.

    `treeflow_runs_waiting_for_tool_version` counts open runs of the worker's task
    queue that wait for a worker hosting one of their pinned versions (fleet-wide,
    from visibility; every worker reports the same figure). The second gauge is this
    worker's own view from its start-up scan: open runs pinned to versions it lacks,
    by `tool` (`name@x.y.z`), which is normal while another worker hosts them.
    """

    def __init__(self, registry: CollectorRegistry, *, label_limit: int = DEFAULT_LABEL_LIMIT):
        self.tool = BoundedLabel(label_limit)
        self.waiting = Gauge(
            "treeflow_runs_waiting_for_tool_version",
            "Open runs waiting for a worker that hosts one of their pinned tool versions.",
            ["task_queue"],
            registry=registry,
        )
        self.missing_here = Gauge(
            "treeflow_open_runs_missing_tool_version",
            "Open runs pinned to a tool version this worker does not host (start-up scan).",
            ["task_queue", "tool"],
            registry=registry,
        )

    def set_missing_here(self, task_queue: str, counts: Mapping[str, int]) -> None:
        for tool, count in counts.items():
            self.missing_here.labels(task_queue, self.tool(tool)).set(count)


class WorkerMetrics:
    """Everything a worker process exports on its metrics port (plus process CPU/RSS)."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True):
        self.registry = registry or CollectorRegistry()
        self.runs = RunMetrics(self.registry)
        self.tools = ToolMetrics(self.registry)
        self.tool_versions = ToolVersionMetrics(self.registry)
        if process:
            # process_cpu_seconds_total, process_resident_memory_bytes, open fds...
            ProcessCollector(registry=self.registry)

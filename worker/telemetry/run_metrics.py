"""Run lifecycle metrics observed by a workflow interceptor, replay-safe.

The inbound interceptor wraps `DecisionTreeWorkflow.run` inside the sandbox. It
never records anything itself: it calls extern functions (registered by
`RunMetricsInterceptor` and run outside the sandbox) and only when the workflow
is *not* replaying, so a run evicted from the cache and replayed, or a closed run
replayed for a query, is not counted twice. It issues no commands, so histories
are unchanged.

Counted: top-level runs only (sub-tree child runs are part of their parent);
`started` on the first generation (not after continue-as-new); a close as
`completed` (with the run's outcome), `failed` (a workflow failure), or
`cancelled`. Terminations and execution timeouts end a run on the server without
the worker seeing it; Temporal's server metrics and visibility cover those.
Run duration is measured from the start of the last generation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError, is_cancelled_exception
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from foundation.telemetry.logs import get_logger
from foundation.telemetry.metrics import RunMetrics
from workflows import observe

log = get_logger("treeflow.worker.metrics")


class RunMetricsInterceptor(Interceptor):
    """Worker interceptor: counts runs and decisions into `RunMetrics`."""

    def __init__(self, metrics: RunMetrics) -> None:
        self.metrics = metrics

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        input.unsafe_extern_functions.update(
            {
                observe.RUN_STARTED: _safe(self.metrics.run_started),
                observe.RUN_CLOSED: _safe(self.metrics.run_closed),
                observe.DECISION: _safe(self.metrics.decision),
            }
        )
        return _RunInbound


def _safe(record: Callable[..., None]) -> Callable[..., None]:
    """Metrics must never break a workflow task."""

    def call(*args: Any) -> None:
        try:
            record(*args)
        except Exception:
            log.exception("recording a run metric failed")

    return call


class _RunInbound(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        request = input.args[0] if input.args else None
        tree = getattr(getattr(request, "tree", None), "name", None)
        tenant = getattr(request, "tenant_id", None)
        info = workflow.info()
        if tree is None or tenant is None or info.parent is not None:
            return await super().execute_workflow(input)
        hooks = workflow.extern_functions()
        if info.continued_run_id is None and not workflow.unsafe.is_replaying():
            hooks[observe.RUN_STARTED](tenant, tree)
        try:
            result = await super().execute_workflow(input)
        except workflow.ContinueAsNewError:
            raise
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError) or is_cancelled_exception(exc):
                _closed(hooks, tenant, tree, "cancelled", None)
            elif isinstance(exc, FailureError):
                _closed(hooks, tenant, tree, "failed", None)
            raise  # anything else fails the workflow *task*, and the run goes on
        _closed(hooks, tenant, tree, "completed", getattr(result, "outcome", None))
        return result


def _closed(hooks: Any, tenant: str, tree: str, status: str, outcome: str | None) -> None:
    if workflow.unsafe.is_replaying():
        return
    seconds = (workflow.now() - workflow.info().start_time).total_seconds()
    hooks[observe.RUN_CLOSED](tenant, tree, status, outcome, seconds)

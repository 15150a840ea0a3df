"""Replay-safe observation hooks the interpreter calls; the worker supplies the recording.

Workflow code does no I/O, so it records nothing itself: the worker's run-metrics
interceptor registers *extern functions* under the names below (the mechanism
Temporal's own tracing interceptor uses), and these helpers call them when they
are present and the workflow is not replaying. Calling them issues no command, so
adding or removing a call never changes a history. Outside such a worker (tests,
the `Replayer`) they do nothing.
"""

from __future__ import annotations

from temporalio import workflow

DECISION = "treeflow.decision"
RUN_STARTED = "treeflow.run_started"
RUN_CLOSED = "treeflow.run_closed"


def decision(strategy: str) -> None:
    """A decision node chose a branch with `strategy` (rules, router, llm)."""
    if workflow.unsafe.is_replaying():
        return
    hook = workflow.extern_functions().get(DECISION)
    if hook is not None:
        hook(strategy)

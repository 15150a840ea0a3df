"""Where a run's pinned tool calls go, and how a run waits for a missing tool version.

Every call first goes to the run's own task queue, where any worker may take it. A
worker that does not host the pinned `name@x.y.z` answers with `ToolNotRegistered`
(the dynamic activity in `activities.runtime`); that failure is made non-retryable
for this first scheduling, so it costs no attempt of the node's retry policy. The
run then schedules the same call on the version's own queue (`version_queue`), which
only workers hosting that exact version poll, and waits there with no
schedule-to-start limit: Temporal keeps the task until such a worker appears (a
rolling deploy finishing, an old worker brought back). While it waits the run
carries `RunStatus=waiting_tool`, which the workers count into the
`treeflow_runs_waiting_for_tool_version` gauge and their readiness detail.

Only runs that recorded the `TOOL_WAIT_PATCH` marker take this path; histories from
before it replay unchanged (see docs/workflow-versioning.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.compiled import CompiledTree
from workflows.search_attributes import RUN_STATUS

TOOL_WAIT_PATCH = "tf-0009-wait-for-tool-version"
MISSING_TOOL_ERROR = "ToolNotRegistered"
"""`ApplicationError.type` of a call that reached a worker without that tool version."""
WAITING_STATUS = "waiting_tool"
"""`RunStatus` of a run waiting for a worker that hosts one of its pinned versions."""
VERSION_QUEUE_SEPARATOR = "/"
TOOLS_MEMO_KEY = "tools"
"""Memo entry listing the worker-hosted `name@x.y.z` a run may call (`pinned_activities`)."""


def pinned_activities(tree: CompiledTree) -> list[str]:
    """Every worker-hosted activity the tree and its subtrees may call, sorted.

    Tenants' declarative tools are left out: every worker runs them.
    """
    found: set[str] = set()
    pending = [tree]
    while pending:
        current = pending.pop()
        found.update(
            name for name in current.pins().values() if name not in current.declarative_tools
        )
        pending.extend(current.subtrees.values())
    return sorted(found)


def version_queue(task_queue: str, activity_name: str) -> str:
    """The task queue that only workers hosting `activity_name` (`name@x.y.z`) poll."""
    return f"{task_queue}{VERSION_QUEUE_SEPARATOR}{activity_name}"


def is_missing_tool(error: ActivityError) -> bool:
    """True when the activity failed because its worker does not host that version."""
    cause = error.cause
    return isinstance(cause, ApplicationError) and cause.type == MISSING_TOOL_ERROR


async def execute_pinned(
    activity: str, call: Any, *, retry_policy: RetryPolicy, **options: Any
) -> Any:
    """`workflow.execute_activity` for a pinned tool version that survives a fleet without it."""
    if not workflow.patched(TOOL_WAIT_PATCH):
        return await workflow.execute_activity(activity, call, retry_policy=retry_policy, **options)
    first = dataclasses.replace(
        retry_policy,
        non_retryable_error_types=[
            *(retry_policy.non_retryable_error_types or ()),
            MISSING_TOOL_ERROR,
        ],
    )
    try:
        return await workflow.execute_activity(activity, call, retry_policy=first, **options)
    except ActivityError as exc:
        if not is_missing_tool(exc):
            raise
    queue = version_queue(workflow.info().task_queue, activity)
    workflow.logger.warning(
        "no worker hosts %s: waiting on task queue %s until one does", activity, queue
    )
    workflow.upsert_search_attributes([RUN_STATUS.value_set(WAITING_STATUS)])
    try:
        return await workflow.execute_activity(
            activity, call, retry_policy=retry_policy, task_queue=queue, **options
        )
    finally:
        workflow.upsert_search_attributes([RUN_STATUS.value_unset()])

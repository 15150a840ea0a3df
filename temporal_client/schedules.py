"""Client-side construction of Temporal Schedules that run a tree.

A tenant's schedule `nightly` is the Temporal schedule `<tenant>:nightly`; its action
starts `DecisionTreeWorkflow` under the workflow id `<tenant>:sched.nightly`, to which
Temporal appends the nominal time (`...-2026-12-02T01:00:00Z`), so every run it starts
has the tenant in its id (the payload codec and the run routes rely on that) and the
run key `sched.nightly-<time>`. The action carries the same input, search attributes
and memo as a run started through the API (`temporal_client.run_start`), plus the
schedule's name in the memo; Temporal adds `TemporalScheduledById` to each run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    ScheduleSpec,
)
from temporalio.common import SearchAttributeKey
from temporalio.converter import WorkflowSerializationContext

from temporal_client.run_start import run_request, start_options
from workflows.compiled import CompiledTree
from workflows.run_models import RunRequest
from workflows.workflow import DecisionTreeWorkflow

Overlap = Literal[
    "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"
]
OVERLAP_POLICIES: dict[str, ScheduleOverlapPolicy] = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate_other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}
"""The API's names for Temporal's overlap policies."""
SCHEDULED_BY = SearchAttributeKey.for_keyword("TemporalScheduledById")
"""Set by Temporal on every workflow a schedule starts: the schedule's Temporal id."""
RUN_KEY_PREFIX = "sched."
"""Run keys of scheduled runs start with this (API keys may too; the memo decides)."""
SCHEDULE_MEMO_KEY = "schedule_id"


def schedule_id(tenant_id: str, name: str) -> str:
    """The Temporal schedule id of a tenant's schedule: the tenant is part of it."""
    return f"{tenant_id}:{name}"


def action_workflow_id(tenant_id: str, name: str) -> str:
    """The workflow id prefix of the runs a schedule starts (Temporal appends the time)."""
    return f"{tenant_id}:{RUN_KEY_PREFIX}{name}"


def is_scheduled_run_key(key: str) -> bool:
    """Whether a run key has the shape of a scheduled run's (the workflow decides)."""
    return key.startswith(RUN_KEY_PREFIX)


def schedule_name(tenant_id: str, temporal_id: str | None) -> str | None:
    """The tenant's name of a schedule from its Temporal id (None if another tenant's)."""
    prefix = f"{tenant_id}:"
    if not temporal_id or not temporal_id.startswith(prefix):
        return None
    return temporal_id[len(prefix) :]


def schedule_spec(
    *,
    cron: str | None,
    interval: timedelta | None,
    offset: timedelta | None = None,
    time_zone: str | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    jitter: timedelta | None = None,
) -> ScheduleSpec:
    """A Temporal spec with exactly one of a cron expression or an interval."""
    if (cron is None) == (interval is None):
        raise ValueError("give exactly one of cron or interval")
    return ScheduleSpec(
        cron_expressions=[cron] if cron is not None else [],
        intervals=[ScheduleIntervalSpec(every=interval, offset=offset)]
        if interval is not None
        else [],
        time_zone_name=time_zone,
        start_at=start_at,
        end_at=end_at,
        jitter=jitter,
    )


def scheduled_action(
    tree: CompiledTree,
    inputs: Mapping[str, Any],
    *,
    tenant_id: str,
    name: str,
    task_queue: str,
    memo: Mapping[str, Any] | None = None,
) -> ScheduleActionStartWorkflow:
    """The action that starts one run of `tree` with `inputs` (raises `InvalidInputs`)."""
    options = start_options(
        tree,
        tenant_id=tenant_id,
        workflow_id=action_workflow_id(tenant_id, name),
        task_queue=task_queue,
        memo={**(memo or {}), SCHEDULE_MEMO_KEY: name},
    )
    return ScheduleActionStartWorkflow(
        DecisionTreeWorkflow.run,
        run_request(tree, inputs, tenant_id),
        id=options["id"],
        task_queue=options["task_queue"],
        memo=options["memo"],
        typed_search_attributes=options["search_attributes"],
        static_summary=f"{options['static_summary']} (schedule {name})",
    )


async def action_request(client: Client, action: ScheduleActionStartWorkflow) -> RunRequest:
    """The run input a described schedule's action holds, decoded (and decrypted with
    the tenant's key: the context is the action's workflow id, as when it was encoded)."""
    payloads = [a for a in action.args if isinstance(a, Payload)]
    if len(payloads) != 1:
        raise ValueError("the schedule's action does not hold one run request")
    converter = client.data_converter.with_context(
        WorkflowSerializationContext(namespace=client.namespace, workflow_id=action.id)
    )
    (request,) = await converter.decode(payloads, [RunRequest])
    if not isinstance(request, RunRequest):
        raise ValueError("the schedule's action does not hold a run request")
    return request

"""A step's whole result, read from the run's history (the trail keeps only a preview).

Run events and step records keep values up to `MAX_EVENT_VALUE_BYTES`; a client that
needs all of one tool's result (a search's objects to open a citation, a chart's image)
asks for that step alone. The k-th `ActivityTaskScheduled` of a run's generation is the
step whose `call` is k (see `run_events.merge_history`); its completion holds the result.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from foundation.telemetry.redaction import redact_value
from temporal_client.run_events import QUERY_TIMEOUT
from workflows.trail import StepRecord
from workflows.workflow import DecisionTreeWorkflow


class StepNotFound(LookupError):
    """The run's latest generation has no step with that id."""


class NoStepResult(LookupError):
    """The step exists but holds no tool result (not a tool, not completed, or elsewhere)."""


async def read_step_result(
    client: Client, workflow_id: str, step_id: int
) -> tuple[StepRecord, Any]:
    """The step record and its whole result, redacted like every value leaving Temporal."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id)
    run_id = (await handle.describe()).run_id
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    steps = await handle.query(DecisionTreeWorkflow.steps, rpc_timeout=QUERY_TIMEOUT)
    step = next((s for s in steps if s.id == step_id), None)
    if step is None:
        raise StepNotFound(step_id)
    if step.call is None or step.outcome != "completed":
        raise NoStepResult(step_id)
    scheduled: list[int] = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled.append(event.event_id)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs = event.activity_task_completed_event_attributes
            if len(scheduled) >= step.call and attrs.scheduled_event_id == scheduled[step.call - 1]:
                values = await client.data_converter.decode(attrs.result.payloads)
                return step, redact_value(values[0] if values else None)
    raise NoStepResult(step_id)

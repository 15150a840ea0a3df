"""Follow a run's events and read its step records, from Temporal alone (API and CLI).

The workflow keeps its trail of events in memory (`workflows.trail`) and answers the
`events(after)` and `steps()` queries; nothing extra is written to history. A
follower long-polls the run's history (`fetch_history_events(wait_new_event=True)`)
only as a wake-up signal: when a workflow task completes or the run closes, it asks
`events(after=<last id>)` and yields what is new. It follows continue-as-new (ids keep
growing across generations) and ends with the `run.ended` event, also for a run that
closed before the follower connected (the whole sequence, then the end). Any process
that can reach Temporal can serve any follower: there is no shared in-process state,
so a client may resume on another API replica with the last id it saw.

Values leaving here are redacted of credential-looking text
(`foundation.telemetry.redaction`); tool results were already scrubbed of the
tenant's secret values by the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError

from foundation.telemetry.redaction import redact_text, redact_value
from workflows.trail import EventPage, RunEvent, StepRecord
from workflows.workflow import DecisionTreeWorkflow

QUERY_TIMEOUT = timedelta(seconds=5)
"""Longest one `events`/`steps` query may take (a closed run is replayed by a worker)."""
QUERY_RETRY_SECONDS = 1.0
"""Pause before asking again when a query failed (no worker yet, or one restarting)."""

_WAKE_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    }
)
_CLOSED_STATUS = {
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
}


@dataclass(frozen=True, slots=True)
class Idle:
    """Nothing happened for `idle_every` seconds (a stream sends a keep-alive)."""


@dataclass(frozen=True, slots=True)
class Gap:
    """Events after `after` up to `resumed_at - 1` were dropped from the bounded trail."""

    after: int
    resumed_at: int


StreamItem = RunEvent | Idle | Gap


class RunUnreadable(RuntimeError):
    """The run's history cannot be read (deleted, or Temporal refuses the call)."""


def redacted(event: RunEvent) -> RunEvent:
    """`event` with credential-looking values removed from its data."""
    return event.model_copy(update={"data": redact_value(event.data)})


class _HistoryWatch:
    """Long-polls one run's history; wakes the follower, notes how the run closed."""

    def __init__(self, handle: WorkflowHandle[Any, Any]) -> None:
        self.wake = asyncio.Event()
        self.closed = False
        self.next_run_id: str | None = None
        self._task = asyncio.create_task(self._watch(handle))

    async def _watch(self, handle: WorkflowHandle[Any, Any]) -> None:
        try:
            async for event in handle.fetch_history_events(wait_new_event=True):
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                    attrs = event.workflow_execution_continued_as_new_event_attributes
                    self.next_run_id = attrs.new_execution_run_id
                if event.event_type in _WAKE_EVENTS:
                    self.wake.set()
        finally:
            self.closed = True
            self.wake.set()

    async def wait(self, seconds: float | None) -> bool:
        """Wait for a wake-up; False on timeout."""
        try:
            await asyncio.wait_for(self.wake.wait(), seconds)
        except TimeoutError:
            return False
        self.wake.clear()
        return True

    def failed(self) -> BaseException | None:
        if not self._task.done() or self._task.cancelled():
            return None
        return self._task.exception()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


async def _page(handle: WorkflowHandle[Any, Any], after: int) -> EventPage | None:
    try:
        return await handle.query(DecisionTreeWorkflow.events, after, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError):
        return None  # no worker answered yet; the next wake-up (or retry) asks again


async def follow_events(
    client: Client,
    workflow_id: str,
    *,
    after: int = 0,
    run_id: str | None = None,
    idle_every: float | None = None,
) -> AsyncGenerator[StreamItem]:
    """Yield the run's events with id > `after`, as they happen, until `run.ended`.

    `run_id` is the run to start from (the first run of the chain, so a client that
    connects late sees every generation); by default the latest run. With
    `idle_every`, an :class:`Idle` is yielded after that many quiet seconds.
    """
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    last_id = after
    while True:
        watch = _HistoryWatch(handle)
        try:
            outcome = None
            run_items = _follow_run(handle, watch, last_id, idle_every)
            async with contextlib.aclosing(run_items):
                async for item in run_items:
                    if isinstance(item, RunEvent):
                        last_id = item.id
                        yield redacted(item)
                    elif isinstance(item, _RunClosed):
                        outcome = item
                    else:
                        yield item
        finally:
            await watch.stop()
        assert outcome is not None
        if outcome.ended:
            return
        if outcome.next_run_id is not None:
            handle = client.get_workflow_handle(workflow_id, run_id=outcome.next_run_id)
            continue
        # Closed without a run.ended of its own (terminated or timed out): say so.
        description = await handle.describe()
        status = _CLOSED_STATUS.get(description.status or WorkflowExecutionStatus.FAILED, "failed")
        yield RunEvent(
            id=max(last_id, outcome.last_id) + 1,
            type="run.ended",
            at=description.close_time or datetime.now().astimezone(),
            data={"status": status},
        )
        return


@dataclass(frozen=True, slots=True)
class _RunClosed:
    ended: bool
    last_id: int
    next_run_id: str | None


async def _follow_run(
    handle: WorkflowHandle[Any, Any], watch: _HistoryWatch, after: int, idle_every: float | None
) -> AsyncGenerator[StreamItem | _RunClosed]:
    """Events of one run (one generation), then how it closed."""
    last_seen = after
    while True:
        closed_before = watch.closed
        if closed_before and watch.failed() is not None:
            raise RunUnreadable("the run's history could not be read") from watch.failed()
        page = await _page(handle, last_seen)
        if page is not None:
            if page.events and page.events[0].id > last_seen + 1:
                yield Gap(after=last_seen, resumed_at=page.events[0].id)
            for event in page.events:
                last_seen = event.id
                yield event
            if page.more:
                continue
            if page.ended:
                yield _RunClosed(True, page.last_id, None)
                return
            if closed_before:
                yield _RunClosed(False, page.last_id, watch.next_run_id)
                return
        if not await watch.wait(idle_every if page is not None else QUERY_RETRY_SECONDS):
            yield Idle()


async def read_steps(
    client: Client, workflow_id: str, *, with_history: bool = True
) -> list[StepRecord]:
    """The step records of the run's latest generation, values redacted.

    With `with_history`, each activity step gets its attempts and the exact times
    Temporal recorded (scheduled, closed), read from the history and the pending
    activities; without it, the times are the workflow's own (`workflow.now()`).
    """
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id)
    run_id: str | None = None
    pending: dict[str, int] = {}
    if with_history:
        description = await handle.describe()
        run_id = description.run_id
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        pending = {
            activity.activity_id: activity.attempt
            for activity in description.raw_description.pending_activities
        }
    steps = await handle.query(DecisionTreeWorkflow.steps, rpc_timeout=QUERY_TIMEOUT)
    steps = [_redacted_step(step) for step in steps]
    if with_history:
        events = [event async for event in handle.fetch_history_events()]
        merge_history(steps, events, pending)
    return steps


def _redacted_step(step: StepRecord) -> StepRecord:
    data = redact_value(step.model_dump(include={"args", "result", "details"}))
    update: dict[str, Any] = {**data, "error": redact_text(step.error) if step.error else None}
    return StepRecord.model_validate({**step.model_dump(), **update})


@dataclass(slots=True)
class _ActivityTimes:
    activity_id: str
    scheduled_at: datetime
    attempts: int | None = None
    closed_at: datetime | None = None


def merge_history(
    steps: list[StepRecord], events: list[HistoryEvent], pending: dict[str, int] | None = None
) -> None:
    """Fill each activity step's attempts and times from its history events.

    The k-th `ActivityTaskScheduled` of a run is the step whose `call` is k: the
    workflow schedules an activity right after recording its step.started. A step whose
    tool waited for a worker hosting its version was scheduled twice; it shows the
    first scheduling's attempts.
    """
    by_event: dict[int, _ActivityTimes] = {}
    in_order: list[_ActivityTimes] = []
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            times = _ActivityTimes(
                event.activity_task_scheduled_event_attributes.activity_id,
                event.event_time.ToDatetime().astimezone(),
            )
            by_event[event.event_id] = times
            in_order.append(times)
            continue
        closed = _closing_scheduled_id(event)
        if closed is not None and closed in by_event:
            by_event[closed].closed_at = event.event_time.ToDatetime().astimezone()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            if attrs.scheduled_event_id in by_event:
                by_event[attrs.scheduled_event_id].attempts = attrs.attempt
    for step in steps:
        if step.call is None or not 0 < step.call <= len(in_order):
            continue
        times = in_order[step.call - 1]
        step.attempts = times.attempts or (pending or {}).get(times.activity_id)
        step.started_at = times.scheduled_at
        if times.closed_at is not None:
            step.ended_at = times.closed_at
            step.duration_ms = (times.closed_at - times.scheduled_at).total_seconds() * 1000


def _closing_scheduled_id(event: HistoryEvent) -> int | None:
    match event.event_type:
        case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            return event.activity_task_completed_event_attributes.scheduled_event_id
        case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            return event.activity_task_failed_event_attributes.scheduled_event_id
        case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            return event.activity_task_timed_out_event_attributes.scheduled_event_id
        case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
            return event.activity_task_canceled_event_attributes.scheduled_event_id
        case _:
            return None

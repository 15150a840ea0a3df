"""A run's history, decoded: the calls it made, the answers it took, how it ended.

Reads the Temporal history of every generation of a run (following continue-as-new)
and decodes its payloads with the client's data converter, so per-tenant encrypted
payloads (foundation.secrets.payload_codec) decode like plain ones. Used by re-runs
(api.reruns) to reuse a run's recorded results; client-side only, never in workflows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.converter import DataConverter, WorkflowSerializationContext
from temporalio.exceptions import ApplicationError

from activities.contracts import ToolCall
from workflows.rerun import RerunPlan, ReusedCall, args_digest
from workflows.run_models import InputAccepted, RunRequest, RunResult, UserInput

MAX_GENERATIONS = 1_000
"""Continue-as-new generations read for one run before giving up (a run this long is
not re-run from its history)."""

MAX_HISTORY_PAYLOAD_BYTES = 50_000_000
"""Payload bytes decoded for one run over all its generations (Temporal's default limit
for one generation's history is 50 MB); a longer run is not read."""

CallStatus = Literal["completed", "failed", "timed_out", "cancelled", "pending"]
_FAILURE_NODE = re.compile(r"^nodes\.([A-Za-z_][A-Za-z0-9_-]*)")
_CHILD_ENDS = frozenset(
    {
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED,
        EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
    }
)
_ACTIVITY_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
    }
)
_INPUT_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    }
)
_INPUT_UPDATE = "submit_input"
_INPUT_SIGNAL = "user_input"


@dataclass(slots=True)
class RecordedFailure:
    message: str
    type: str | None = None


@dataclass(slots=True)
class RecordedCall:
    """One activity the run scheduled (`name@x.y.z`) or one sub-tree run it started
    (`subtree:<tree name>`, its inputs as `args`) at a node, and how it ended."""

    seq: int
    """Position among the run's calls and answers (history order, all generations)."""
    activity: str
    node: str
    args: dict[str, Any]
    run_id: str
    scheduled_at: datetime
    status: CallStatus = "pending"
    result: Any = None
    failure: RecordedFailure | None = None
    attempt: int = 0
    started_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(slots=True)
class RecordedAnswer:
    """An answer an input node took (an accepted update, or a signal naming its node)."""

    seq: int
    node: str
    value: Any
    at: datetime
    via: Literal["update", "signal"]


@dataclass(slots=True)
class RunHistory:
    """A run's recorded calls and answers in history order, over all its generations."""

    workflow_id: str
    run_ids: list[str]
    request: RunRequest
    """The first generation's input: the tree and the inputs the run was started with."""
    calls: list[RecordedCall] = field(default_factory=list)
    answers: list[RecordedAnswer] = field(default_factory=list)
    result: RunResult | None = None
    failure: RecordedFailure | None = None

    def next_seq(self) -> int:
        return len(self.calls) + len(self.answers)

    @property
    def failed_node(self) -> str | None:
        """The node the run failed at: named by its failure (`nodes.X: ...`), else the
        node of the last call that did not complete (a terminated or timed-out run)."""
        if self.failure is not None:
            named = _FAILURE_NODE.match(self.failure.message)
            if named:
                return named.group(1)
        if self.result is not None:
            return None
        for call in reversed(self.calls):
            if call.status != "completed":
                return call.node
        return None

    def reached(self) -> set[str]:
        """Nodes the history shows the run visited (calls, answers, its path, its failure)."""
        nodes = {c.node for c in self.calls} | {a.node for a in self.answers}
        if self.result is not None:
            nodes.update(self.result.path)
        failed = self.failed_node
        if failed is not None:
            nodes.add(failed)
        return nodes

    def rerun_plan(self, from_node: str) -> RerunPlan:
        """The recorded calls and answers before the first one at `from_node`, per node."""
        timeline: list[tuple[int, str, ReusedCall]] = []
        for call in self.calls:
            ok = call.status == "completed"
            recorded = ReusedCall(
                digest=args_digest(call.args), result=call.result if ok else None, ok=ok
            )
            timeline.append((call.seq, call.node, recorded))
        for answer in self.answers:
            timeline.append((answer.seq, answer.node, ReusedCall(result=answer.value)))
        timeline.sort(key=lambda item: item[0])
        calls: dict[str, list[ReusedCall]] = {}
        inherited = self.request.rerun
        if inherited is not None:
            # This run is itself a re-run: what it reused left no events. Nodes it made
            # no call at keep its own recorded calls (arguments still decide reuse).
            called = {node for _seq, node, _call in timeline}
            for node, recorded_calls in inherited.calls.items():
                if node not in called and node != from_node:
                    calls[node] = list(recorded_calls)
        for _seq, node, recorded in timeline:
            if node == from_node:
                break
            calls.setdefault(node, []).append(recorded)
        return RerunPlan(from_node=from_node, calls=calls)


@dataclass(slots=True)
class _Generation:
    """What reading one generation's events keeps: calls and child runs by the id of the
    event that started them, accepted input updates by update id."""

    run_id: str
    into: RunHistory
    calls: dict[int, RecordedCall] = field(default_factory=dict)
    children: dict[int, RecordedCall] = field(default_factory=dict)
    updates: dict[str, tuple[Any, datetime]] = field(default_factory=dict)


class HistoryUnreadable(Exception):
    """The history does not hold a Treeflow run (or goes on for too many generations)."""


async def read_run_history(client: Client, workflow_id: str, first_run_id: str) -> RunHistory:
    """Decode the history of the run `workflow_id`, from `first_run_id` through every
    continue-as-new generation."""
    converter = client.data_converter.with_context(
        WorkflowSerializationContext(namespace=client.namespace, workflow_id=workflow_id)
    )
    reader = _Reader(converter)
    run_id: str | None = first_run_id
    history: RunHistory | None = None
    for _ in range(MAX_GENERATIONS):
        if run_id is None:
            break
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        events = [event async for event in handle.fetch_history_events()]
        if history is None:
            history = RunHistory(workflow_id, [], await reader.request(events))
        history.run_ids.append(run_id)
        run_id = await reader.read(events, run_id, history)
    else:
        raise HistoryUnreadable(f"more than {MAX_GENERATIONS} generations")
    if history is None:
        raise HistoryUnreadable("no history")
    return history


class _Reader:
    """Decodes the events of one generation into a `RunHistory`."""

    def __init__(self, converter: DataConverter) -> None:
        self.converter = converter
        self.decoded_bytes = 0

    async def _one(self, payloads: Payloads, hint: type | None = None) -> Any:
        if not payloads.payloads:
            return None
        self.decoded_bytes += payloads.ByteSize()
        if self.decoded_bytes > MAX_HISTORY_PAYLOAD_BYTES:
            raise HistoryUnreadable(f"more than {MAX_HISTORY_PAYLOAD_BYTES} bytes of payloads")
        values = await self.converter.decode(payloads.payloads, [hint] if hint else None)
        return values[0]

    async def _failure(self, failure: Any) -> RecordedFailure:
        error = await self.converter.decode_failure(failure)
        while error.__cause__ is not None and not isinstance(error, ApplicationError):
            error = error.__cause__
        if isinstance(error, ApplicationError):
            return RecordedFailure(error.message, error.type)
        return RecordedFailure(str(error) or type(error).__name__, type(error).__name__)

    async def request(self, events: list[HistoryEvent]) -> RunRequest:
        if not events or events[0].event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            raise HistoryUnreadable("the history does not start with the run's start")
        started = events[0].workflow_execution_started_event_attributes
        try:
            request: RunRequest = await self._one(started.input, RunRequest)
        except Exception as exc:  # not a DecisionTreeWorkflow input, or undecodable
            raise HistoryUnreadable(f"the run's input does not decode: {exc}") from exc
        return request

    async def read(self, events: list[HistoryEvent], run_id: str, into: RunHistory) -> str | None:
        """Add this generation's calls and answers; the next generation's run id, if any."""
        generation = _Generation(run_id, into)
        for event in events:
            at = event.event_time.ToDatetime(tzinfo=UTC)
            kind = event.event_type
            if kind in _ACTIVITY_EVENTS:
                await self._activity_event(event, generation, at)
            elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
                child = await self._child(event, into, run_id, at)
                if child is not None:
                    generation.children[event.event_id] = child
                    into.calls.append(child)
            elif kind in _CHILD_ENDS:
                await self._child_end(event, generation.children, at)
            elif kind in _INPUT_EVENTS:
                await self._input_event(event, generation, at)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                completed = event.workflow_execution_completed_event_attributes
                into.result = await self._one(completed.result, RunResult)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
                failed = event.workflow_execution_failed_event_attributes
                into.failure = await self._failure(failed.failure)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                attrs = event.workflow_execution_continued_as_new_event_attributes
                return attrs.new_execution_run_id or None
        return None

    async def _activity_event(self, event: HistoryEvent, gen: _Generation, at: datetime) -> None:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            call = await self._scheduled(event, gen.run_id, at, gen.into.next_seq())
            if call is not None:
                gen.calls[event.event_id] = call
                gen.into.calls.append(call)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            a = event.activity_task_started_event_attributes
            if (call := gen.calls.get(a.scheduled_event_id)) is not None:
                call.attempt, call.started_at = a.attempt, at
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            c = event.activity_task_completed_event_attributes
            if (call := _close(gen.calls, c.scheduled_event_id, "completed", at)) is not None:
                call.result = await self._one(c.result)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            f = event.activity_task_failed_event_attributes
            if (call := _close(gen.calls, f.scheduled_event_id, "failed", at)) is not None:
                call.failure = await self._failure(f.failure)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            t = event.activity_task_timed_out_event_attributes
            if (call := _close(gen.calls, t.scheduled_event_id, "timed_out", at)) is not None:
                call.failure = await self._failure(t.failure)
        else:  # EVENT_TYPE_ACTIVITY_TASK_CANCELED
            x = event.activity_task_canceled_event_attributes
            _close(gen.calls, x.scheduled_event_id, "cancelled", at)

    async def _input_event(self, event: HistoryEvent, gen: _Generation, at: datetime) -> None:
        """Answers: `submit_input` updates (their outcome names the node) and signals."""
        into, kind = gen.into, event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name == _INPUT_UPDATE:
                answer: UserInput = await self._one(request.input.args, UserInput)
                gen.updates[request.meta.update_id] = (answer.value, at)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            done = event.workflow_execution_update_completed_event_attributes
            pending = gen.updates.pop(done.meta.update_id, None)
            if pending is not None and done.outcome.HasField("success"):
                target: InputAccepted = await self._one(done.outcome.success, InputAccepted)
                into.answers.append(
                    RecordedAnswer(into.next_seq(), target.node, *pending, "update")
                )
        else:  # EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            signal = event.workflow_execution_signaled_event_attributes
            if signal.signal_name == _INPUT_SIGNAL:
                given: UserInput = await self._one(signal.input, UserInput)
                if given.node is not None:  # an unnamed answer's node is not recorded
                    into.answers.append(
                        RecordedAnswer(into.next_seq(), given.node, given.value, at, "signal")
                    )

    async def _scheduled(
        self, event: HistoryEvent, run_id: str, at: datetime, seq: int
    ) -> RecordedCall | None:
        scheduled = event.activity_task_scheduled_event_attributes
        try:
            call: ToolCall = await self._one(scheduled.input, ToolCall)
        except HistoryUnreadable:
            raise
        except Exception:  # not a tool call (no Treeflow activity takes anything else)
            return None
        if call is None or not call.node_id:
            return None
        return RecordedCall(
            seq=seq,
            activity=scheduled.activity_type.name,
            node=call.node_id,
            args=dict(call.args),
            run_id=run_id,
            scheduled_at=at,
        )

    async def _child(
        self, event: HistoryEvent, into: RunHistory, run_id: str, at: datetime
    ) -> RecordedCall | None:
        """A sub-tree run: its id is `<parent id>/<node>/<generation>.<visit>`."""
        initiated = event.start_child_workflow_execution_initiated_event_attributes
        node = initiated.workflow_id.removeprefix(f"{into.workflow_id}/").split("/", 1)[0]
        try:
            request: RunRequest = await self._one(initiated.input, RunRequest)
        except HistoryUnreadable:
            raise
        except Exception:  # not a tree run
            return None
        return RecordedCall(
            seq=into.next_seq(),
            activity=f"subtree:{request.tree.spec.name}",
            node=node,
            args=dict(request.inputs),
            run_id=run_id,
            scheduled_at=at,
        )

    async def _child_end(
        self, event: HistoryEvent, children: dict[int, RecordedCall], at: datetime
    ) -> None:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
            done = event.child_workflow_execution_completed_event_attributes
            if (child := _close(children, done.initiated_event_id, "completed", at)) is not None:
                child.result = await self._one(done.result)
            return
        if kind == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
            failed = event.child_workflow_execution_failed_event_attributes
            if (child := _close(children, failed.initiated_event_id, "failed", at)) is not None:
                child.failure = await self._failure(failed.failure)
            return
        ended: dict[Any, tuple[CallStatus, int]] = {
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED: (
                "cancelled",
                event.child_workflow_execution_canceled_event_attributes.initiated_event_id,
            ),
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: (
                "timed_out",
                event.child_workflow_execution_timed_out_event_attributes.initiated_event_id,
            ),
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED: (
                "failed",
                event.child_workflow_execution_terminated_event_attributes.initiated_event_id,
            ),
            EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED: (
                "failed",
                event.start_child_workflow_execution_failed_event_attributes.initiated_event_id,
            ),
        }
        status, initiated_id = ended[kind]
        _close(children, initiated_id, status, at)


def _close(
    calls: dict[int, RecordedCall], initiated_id: int, status: CallStatus, at: datetime
) -> RecordedCall | None:
    """Mark the call `initiated_id` started as closed with `status` at `at`; None if unknown."""
    call = calls.get(initiated_id)
    if call is not None:
        call.status, call.closed_at = status, at
    return call

"""The run trail: a bounded, deterministic list of what a run did, read by queries only.

`TreeRun` calls a :class:`RunTrail` at a few points (a step starts, completes or fails,
a decision is taken, input is requested or answered, the output is rendered, the run
ends). Nothing here writes to history: the trail is workflow state, rebuilt on replay
and read through the `events` and `steps` queries; clients (`temporal_client.run_events`)
use the history only as a wake-up signal and for activity attempts and times.

Event ids are ordinals that keep growing across continue-as-new (the checkpoint carries
the last id). Times are `workflow.now()`. Values (arguments, results, outputs, answers)
are truncated to `MAX_EVENT_VALUE_BYTES` of JSON with their full size kept; secrets are
scrubbed on the client side (tool results are already scrubbed by value in the worker).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_TRAIL_EVENTS = 500
"""Events a run keeps in memory (per generation); older ones are dropped first."""
MAX_EVENT_VALUE_BYTES = 2048
"""Largest JSON encoding of one value (arguments, result, output, answer) kept whole;
longer ones are kept as a prefix of their JSON text with `truncated` set."""
MAX_EVENTS_PAGE = 200
"""Most events one `events` query answers."""
MAX_ERROR_CHARS = 2000
"""Longest error text kept in a `step.failed` event."""

EventType = Literal[
    "step.started",
    "step.completed",
    "step.failed",
    "decision.taken",
    "input.requested",
    "input.answered",
    "output",
    "run.ended",
]
StepOutcome = Literal["running", "completed", "failed"]


class Value(BaseModel):
    """A value as the trail keeps it: whole, or a prefix of its JSON text."""

    value: Any = None
    size: int = Field(description="Bytes of the value's full JSON encoding.")
    truncated: bool = False


def preview(value: Any) -> Value:
    """`value` bounded to `MAX_EVENT_VALUE_BYTES` (a detached copy, so later changes
    to the run's data do not change what the trail recorded)."""
    text = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    encoded = text.encode()
    if len(encoded) <= MAX_EVENT_VALUE_BYTES:
        return Value(value=json.loads(text), size=len(encoded))
    cut = encoded[:MAX_EVENT_VALUE_BYTES].decode("utf-8", "ignore")
    return Value(value=cut, size=len(encoded), truncated=True)


class RunEvent(BaseModel):
    """One thing a run did. `data` depends on `type` (docs/api.md, "Run events")."""

    id: int
    type: EventType
    at: datetime
    node: str | None = None
    kind: str | None = None
    step: int | None = Field(default=None, description="Id of the step.started event.")
    data: dict[str, Any] = Field(default_factory=dict)


class EventPage(BaseModel):
    """What the `events` query answers: events with id > `after`, oldest first."""

    events: list[RunEvent]
    first_id: int = Field(description="Oldest id still kept (0: none yet).")
    last_id: int = Field(description="Newest id so far (the run's ordinal offset if none).")
    more: bool = Field(default=False, description="More events follow: ask again.")
    ended: bool = Field(default=False, description="The run.ended event has been recorded.")
    generation: int = 1


class Decision(BaseModel):
    """The branch a decision took and why."""

    branch: str | None = None
    to: str | None = None
    strategy: str | None = None
    rule: str | None = Field(default=None, description="The `when` that matched (rules).")
    index: int | None = Field(default=None, description="Index of the chosen branch.")
    scores: dict[str, float] = Field(default_factory=dict)
    reasoning: str = ""
    end: bool = False
    impossible: bool = False


class StepRecord(BaseModel):
    """One visited node, folded from its events (and, client side, from the history)."""

    id: int = Field(description="Id of the step's first event.")
    node: str
    kind: str | None = None
    activity: str | None = Field(default=None, description="`name@x.y.z` the step ran.")
    call: int | None = Field(
        default=None, description="Ordinal of the activity in its generation's history."
    )
    outcome: StepOutcome = "running"
    started_at: datetime
    ended_at: datetime | None = None
    duration_ms: float | None = None
    attempts: int | None = Field(default=None, description="From the history (activities).")
    args: Value | None = None
    result: Value | None = None
    error: str | None = None
    handled_by: str | None = Field(
        default=None, description="Node the run went on to after a failure."
    )
    decision: Decision | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class RunTrail:
    """The events of one run generation, bounded, with ids continuing `offset`."""

    def __init__(self, offset: int = 0, generation: int = 1) -> None:
        self.events: list[RunEvent] = []
        self.last_id = offset
        self.generation = generation
        self.dropped = 0
        self.ended = False
        self._open: dict[str, int] = {}
        self._calls = 0

    def _add(
        self,
        type_: EventType,
        at: datetime,
        node: str | None = None,
        *,
        kind: str | None = None,
        step: int | None = None,
        **data: Any,
    ) -> int:
        self.last_id += 1
        self.events.append(
            RunEvent(id=self.last_id, type=type_, at=at, node=node, kind=kind, step=step, data=data)
        )
        if len(self.events) > MAX_TRAIL_EVENTS:
            excess = len(self.events) - MAX_TRAIL_EVENTS
            del self.events[:excess]
            self.dropped += excess
        return self.last_id

    # ------------------------------------------------------------ recording

    def step_started(self, at: datetime, node: str, kind: str, **data: Any) -> int:
        """A node starts; `args` (rendered) are bounded here."""
        if "args" in data:
            data["args"] = preview(data["args"]).model_dump()
        if data.get("activity"):
            self._calls += 1
            data["call"] = self._calls
        step = self._add("step.started", at, node, kind=kind, **data)
        self._open[node] = step
        return step

    def is_open(self, node: str) -> bool:
        return node in self._open

    def step_completed(self, at: datetime, node: str, **data: Any) -> None:
        if "result" in data:
            data["result"] = preview(data["result"]).model_dump()
        step = self._open.pop(node, None)
        self._add("step.completed", at, node, step=step, **data)

    def step_failed(
        self, at: datetime, node: str, error: str, handled_by: str | None = None
    ) -> None:
        step = self._open.pop(node, None)
        self._add(
            "step.failed", at, node, step=step, error=error[:MAX_ERROR_CHARS], handled_by=handled_by
        )

    def decision(self, at: datetime, node: str, decision: Decision) -> None:
        self._add(
            "decision.taken",
            at,
            node,
            step=self._open.get(node),
            **decision.model_dump(exclude_defaults=True),
        )

    def input_requested(
        self, at: datetime, node: str, prompt: str, choices: list[str] | None
    ) -> None:
        self._add(
            "input.requested", at, node, step=self._open.get(node), prompt=prompt, choices=choices
        )

    def input_answered(self, at: datetime, node: str, value: Any) -> None:
        self._add(
            "input.answered", at, node, step=self._open.get(node), value=preview(value).model_dump()
        )

    def output(self, at: datetime, output: dict[str, Any]) -> None:
        self._add("output", at, output=preview(output).model_dump())

    def run_ended(self, at: datetime, status: str, **data: Any) -> None:
        if self.ended:
            return
        self.ended = True
        self._add("run.ended", at, status=status, **data)

    # ------------------------------------------------------------ reading

    def page(self, after: int, limit: int = MAX_EVENTS_PAGE) -> EventPage:
        """Events with id > `after` (at most `limit`, capped at `MAX_EVENTS_PAGE`)."""
        limit = max(1, min(limit, MAX_EVENTS_PAGE))
        newer = [event for event in self.events if event.id > after]
        return EventPage(
            events=newer[:limit],
            first_id=self.events[0].id if self.events else 0,
            last_id=self.last_id,
            more=len(newer) > limit,
            ended=self.ended,
            generation=self.generation,
        )

    def steps(self) -> list[StepRecord]:
        """The step records folded from the events kept."""
        return fold_steps(self.events)


def fold_steps(events: list[RunEvent]) -> list[StepRecord]:
    """Fold events into one record per step, in the order the steps started."""
    records: dict[int, StepRecord] = {}
    for event in events:
        if event.type == "step.started":
            data = dict(event.data)
            args = data.pop("args", None)
            records[event.id] = StepRecord(
                id=event.id,
                node=event.node or "",
                kind=event.kind,
                activity=data.pop("activity", None),
                call=data.pop("call", None),
                started_at=event.at,
                args=Value.model_validate(args) if args is not None else None,
                details=data,
            )
            continue
        if event.node is None:
            continue
        record = records.get(event.step) if event.step is not None else None
        if record is None:
            if event.type != "step.failed":
                continue  # its start was dropped from the trail
            record = records[event.id] = StepRecord(
                id=event.id, node=event.node, started_at=event.at
            )
        _apply(record, event)
    return list(records.values())


def _apply(record: StepRecord, event: RunEvent) -> None:
    data = event.data
    match event.type:
        case "step.completed" | "step.failed":
            record.outcome = "completed" if event.type == "step.completed" else "failed"
            record.ended_at = event.at
            record.duration_ms = (event.at - record.started_at).total_seconds() * 1000
            if "result" in data:
                record.result = Value.model_validate(data["result"])
            record.error = data.get("error")
            record.handled_by = data.get("handled_by")
        case "decision.taken":
            record.decision = Decision.model_validate(data)
        case "input.requested":
            record.details.update(prompt=data.get("prompt"), choices=data.get("choices"))
        case "input.answered":
            record.result = Value.model_validate(data["value"])
        case _:
            pass

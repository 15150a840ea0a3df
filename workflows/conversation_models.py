"""What a conversation holds and shows its tree: turns, the `conversation` scope, bounds.

Pure data shared by `ConversationWorkflow` (workflows/conversation.py), the API and
the CLI. Every turn is a run of the conversation's tree; the next turn's run sees the
earlier ones through `RunRequest.conversation` (the `conversation` scope name). All
sizes are bounded here, once, so that neither the scope nor the workflow's state
grows with the length of a conversation:

* a turn keeps its final `state` and node `results` only while it is the latest
  turn, clipped to `MAX_TURN_DATA_CHARS` of JSON (strings to `MAX_TEXT_CHARS`,
  lists to `MAX_LIST_ITEMS`, nesting to `MAX_DATA_DEPTH`); older turns keep their
  message, answer (clipped) and run key;
* the scope lists at most `MAX_SCOPE_TURNS` earlier turns;
* a workflow run answers `TURNS_PER_RUN` turns, then continues as new carrying the
  last `MAX_SCOPE_TURNS` turns (the summary) and the turn count.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.compiled import CompiledTree

CONVERSATION_WORKFLOW_NAME = "ConversationWorkflow"
TURNS_PER_RUN = 20
"""Turns one workflow run answers before it continues as new (bounds its history)."""
MAX_SCOPE_TURNS = 10
"""Earlier turns listed in `conversation.turns` and carried across continue-as-new."""
MAX_USER_MESSAGE_CHARS = 4000
"""Longest message a user may send (longer ones are refused, not cut)."""
MAX_TURN_DATA_CHARS = 8000
"""JSON size of the latest turn's `results` plus `state`; larger nodes are replaced by a
marker `{"truncated": true, "size": <chars>}`."""
MAX_ANSWER_CHARS = 2000
"""JSON size of a turn's answer (its run's output) kept in the conversation."""
MAX_TEXT_CHARS = 1000
"""Longest string kept inside a turn's results, state or answer."""
MAX_LIST_ITEMS = 20
"""Items kept of any list inside a turn's results, state or answer."""
MAX_DATA_DEPTH = 6
"""Nesting kept inside a turn's results, state or answer; deeper values become '…'."""
MAX_PATH_ITEMS = 50
"""Nodes kept of a turn's path."""

TurnStatus = Literal["answering", "completed", "failed"]
ConversationPhase = Literal["idle", "answering", "ended"]


def clip(value: Any, depth: int = 0) -> Any:
    """`value` with long strings cut, long lists shortened and deep nesting elided."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT_CHARS else value[:MAX_TEXT_CHARS] + "…"
    if depth >= MAX_DATA_DEPTH and isinstance(value, dict | list):
        return "…"
    if isinstance(value, dict):
        return {str(k): clip(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clip(v, depth + 1) for v in list(value)[:MAX_LIST_ITEMS]]
    return value


def _size(value: Any) -> int:
    return len(json.dumps(value, sort_keys=True, default=str))


def bounded(data: dict[str, Any], budget: int) -> dict[str, Any]:
    """`data` clipped; then its largest entries are replaced by markers until it fits."""
    clipped = {key: clip(value) for key, value in data.items()}
    sizes = {key: _size(value) for key, value in clipped.items()}
    total = sum(sizes.values())
    for key in sorted(sizes, key=lambda k: (-sizes[k], k)):
        if total <= budget:
            break
        clipped[key] = {"truncated": True, "size": sizes[key]}
        total += _size(clipped[key]) - sizes[key]
    return clipped


def turn_data(state: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """A turn's final `state` and node `results`, bounded to `MAX_TURN_DATA_CHARS` in all."""
    half = MAX_TURN_DATA_CHARS // 2
    return {"state": bounded(state, half), "results": bounded(results, half)}


class Turn(BaseModel):
    """One message and the run that answered it."""

    turn: int
    message: str
    message_id: str | None = None
    run: str = Field(description="The run key of the turn (`GET /runs/{run}`).")
    workflow_id: str
    status: TurnStatus = "answering"
    outcome: str | None = None
    answer: dict[str, Any] | None = None
    error: str | None = None
    path: list[str] = Field(default_factory=list)
    state: dict[str, Any] = Field(default_factory=dict)
    results: dict[str, Any] = Field(default_factory=dict)

    def compact(self) -> Turn:
        """The turn without its results and state (what older turns keep)."""
        return self.model_copy(update={"state": {}, "results": {}})


class ConversationContext(BaseModel):
    """The `conversation` scope of a turn's run (`RunRequest.conversation`)."""

    model_config = ConfigDict(frozen=True)

    id: str
    turn: int = Field(description="This turn's number, from 1.")
    turns: list[Turn] = Field(default_factory=list, description="Earlier turns, oldest first.")
    last: Turn | None = Field(default=None, description="The previous turn, with its data.")

    def scope(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


EMPTY_SCOPE: dict[str, Any] = {"id": None, "turn": 0, "turns": [], "last": None}
"""What `conversation` holds in a run that is not part of a conversation."""


class ConversationStart(BaseModel):
    """Input of `ConversationWorkflow` (also what continue-as-new carries)."""

    model_config = ConfigDict(frozen=True)

    conversation_id: str
    tenant_id: str
    tree: CompiledTree
    message_input: str = Field(description="The tree input each message fills.")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Inputs every turn's run gets besides the message."
    )
    memo: dict[str, Any] = Field(
        default_factory=dict, description="Memo of every turn's run (tree version number...)."
    )
    turns_per_run: int = Field(default=TURNS_PER_RUN, ge=1, le=TURNS_PER_RUN)
    earlier: list[Turn] = Field(
        default_factory=list, description="The summary carried across continue-as-new."
    )
    turn_count: int = 0
    generation: int = 1


class Message(BaseModel):
    """The `send_message` update's argument."""

    text: str = Field(min_length=1, max_length=MAX_USER_MESSAGE_CHARS)
    turn: int | None = Field(
        default=None,
        description="The turn number this message expects to be; another one is rejected "
        "(optimistic concurrency: the sender named the run key already).",
    )
    id: str | None = Field(
        default=None, max_length=64, description="The sender's id for the message (kept)."
    )


class TurnAccepted(BaseModel):
    """What `send_message` returns: the turn, once its run ended."""

    turn: Turn


class ConversationView(BaseModel):
    """What the `conversation` query answers."""

    conversation_id: str
    tree: str
    tree_version: str
    tree_hash: str
    phase: ConversationPhase
    turn_count: int
    generation: int
    turns: list[Turn] = Field(
        description="The turns this workflow still holds (the carried summary and this "
        "run's turns), oldest first."
    )


def run_key(conversation_id: str, turn: int) -> str:
    """The run key of a turn: `<conversation id>.<turn>`."""
    return f"{conversation_id}.{turn}"


def turn_workflow_id(tenant_id: str, conversation_id: str, turn: int) -> str:
    """A turn's workflow id, by the runs' convention (`<tenant>:<key>`), so the run
    routes (`GET /runs/{key}`, its events) serve every turn."""
    return f"{tenant_id}:{run_key(conversation_id, turn)}"


def conversation_workflow_id(tenant_id: str, conversation_id: str) -> str:
    """The conversation's own workflow id: `<tenant>:` first like a run's, so the payload
    codec encrypts it for the tenant; the `/` (never in a run key) keeps it apart from
    every run's id and out of the runs list."""
    return f"{tenant_id}:conversation/{conversation_id}"

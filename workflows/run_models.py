"""Data that enters, leaves or is queried from a run (sandbox safe, pydantic)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from workflows.compiled import CompiledTree
from workflows.conversation_models import ConversationContext
from workflows.rerun import RerunPlan
from workflows.tree_cache import decode_tree

MAX_PATH_KEPT = 500  # path entries kept in state; `steps` counts all of them
MAX_TASKS_KEPT = 200

Outcome = Literal["completed", "limit_reached", "ended", "impossible"]
Phase = Literal["running", "waiting_input", "completed", "failed", "cancelled"]


class TaskRecord(BaseModel):
    """One finished step, as Elysia's `tasks_completed` records it."""

    node: str
    kind: str
    tool: str | None = None
    ok: bool = True
    summary: str = ""


class Environment(BaseModel):
    """What a run knows: inputs, state, results per node and tool, errors, history."""

    inputs: dict[str, Any] = Field(default_factory=dict)
    state: dict[str, Any] = Field(default_factory=dict)
    results: dict[str, Any] = Field(default_factory=dict)
    tools: dict[str, Any] = Field(default_factory=dict)
    errors: dict[str, list[str]] = Field(default_factory=dict)
    passes: dict[str, int] = Field(default_factory=dict)
    tasks: list[TaskRecord] = Field(default_factory=list)
    path: list[str] = Field(default_factory=list)
    steps: int = 0
    last_result: Any = None
    handoff: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Arguments an LLM decision wrote for the tool node it chose (agent_args).",
    )
    _task_view: list[dict[str, Any]] | None = PrivateAttr(default=None)

    def task_dicts(self) -> list[dict[str, Any]]:
        """`tasks` as plain data for expressions, built once and then kept in step."""
        if self._task_view is None:
            self._task_view = [task.model_dump() for task in self.tasks]
        return self._task_view

    def visit(self, node_id: str) -> None:
        self.steps += 1
        self.path.append(node_id)
        if len(self.path) > MAX_PATH_KEPT:
            del self.path[: len(self.path) - MAX_PATH_KEPT]

    def record(self, task: TaskRecord) -> None:
        self.tasks.append(task)
        if self._task_view is not None:
            self._task_view.append(task.model_dump())
        if len(self.tasks) > MAX_TASKS_KEPT:
            del self.tasks[: len(self.tasks) - MAX_TASKS_KEPT]
            self._task_view = None


class Checkpoint(BaseModel):
    """Where a run resumes after continue-as-new."""

    node: str
    environment: Environment
    generation: int = 1
    events_before: int = Field(
        default=0, description="Last run-event id of the earlier generations (workflows.trail)."
    )


_ABSENT_WHEN_NONE = ("conversation", "rerun")
"""RunRequest fields left out of the payload when unset, so plain runs' inputs stay as
they were."""


class RunRequest(BaseModel):
    """Input of `DecisionTreeWorkflow`. Holds no secrets."""

    model_config = ConfigDict(frozen=True)

    tree: CompiledTree
    inputs: dict[str, Any] = Field(default_factory=dict)
    tenant_id: str = "default"
    checkpoint: Checkpoint | None = None
    rerun: RerunPlan | None = Field(
        default=None, description="A re-run's recorded results to reuse (workflows.rerun)."
    )
    conversation: ConversationContext | None = Field(
        default=None,
        description="The earlier turns when the run answers a conversation's message "
        "(the `conversation` scope name); None for a plain run.",
    )

    @model_serializer(mode="wrap")
    def _without_absent_features(self, handler: SerializerFunctionWrapHandler) -> Any:
        """A plain run's input is serialised as before these optional fields existed."""
        data = handler(self)
        if isinstance(data, dict):
            for name in _ABSENT_WHEN_NONE:
                if data.get(name, True) is None:
                    del data[name]
        return data

    # Runs of one tree share its decoded form (workflows.tree_cache).
    _tree_decoded_once = field_validator("tree", mode="wrap")(decode_tree)


class PendingInput(BaseModel):
    node: str
    prompt: str
    choices: list[str] | None = None
    timeout_seconds: float | None = None


class UserInput(BaseModel):
    """An answer for a waiting input node (`node` may be omitted when only one waits)."""

    value: Any
    node: str | None = None


class InputAccepted(BaseModel):
    node: str


class Progress(BaseModel):
    """What the `progress` query answers."""

    phase: Phase
    current_node: str | None
    path: list[str]
    steps: int
    passes: dict[str, int]
    waiting_for: list[PendingInput] = Field(default_factory=list)
    errors: dict[str, list[str]] = Field(default_factory=dict)
    tasks: list[TaskRecord] = Field(default_factory=list)
    tree: str
    tree_version: str
    tree_hash: str
    generation: int = 1
    output: dict[str, Any] | None = None


class RunResult(BaseModel):
    """What a finished run returns."""

    outcome: Outcome
    output: dict[str, Any]
    path: list[str]
    steps: int
    tasks: list[TaskRecord]
    errors: dict[str, list[str]]
    tree: str
    tree_version: str
    tree_hash: str
    turn_data: dict[str, Any] | None = Field(
        default=None,
        description="A conversation turn's final state and results (bounded); absent from a "
        "plain run's result, which stays as it was.",
    )

    @model_serializer(mode="wrap")
    def _without_absent_turn_data(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("turn_data", True) is None:
            del data["turn_data"]
        return data

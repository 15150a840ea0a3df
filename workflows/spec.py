"""The tree spec: pydantic models for a decision tree written in YAML or JSON.

These models check shape only (types, required fields, known keys). Meaning
(references, tools, loops, expressions) is checked by `workflows.compiler`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from workflows import limits as bounds
from workflows.activity_defaults import MAX_HEARTBEAT_TIMEOUT_SECONDS, MIN_HEARTBEAT_TIMEOUT_SECONDS
from workflows.documents import DuplicateKeyError, load_document, shorten

__all__ = ["AUTHORING", "DuplicateKeyError", "TreeSpec", "json_schema", "load_document"]

AUTHORING = "treeflow.authoring"
"""Validation-context key set when a tree is authored (text, data or API body): only
then do the size and range limits of `workflows.limits` that came after trees were
first accepted apply. Compiled trees already travelling (workflow inputs of runs in
flight, stored versions) decode exactly as they were accepted."""


def _authoring(info: ValidationInfo) -> bool:
    context = info.context
    return isinstance(context, Mapping) and bool(context.get(AUTHORING))


def _max_length(limit: int) -> Any:
    def check(value: str, info: ValidationInfo) -> str:
        if len(value) > limit and _authoring(info):
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": limit},
            )
        return value

    return check


TREE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
"""What a tree's name may be (it names the tree in URLs, run ids and search attributes)."""
NODE_ID = rf"^[A-Za-z_][A-Za-z0-9_-]{{0,{bounds.MAX_ID_LENGTH - 1}}}$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def _seconds(value: Any) -> float:
    """Accept `30`, `2.5`, `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"2d"`; return seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration cannot be a boolean")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"'{shorten(value)}' is not a duration (examples: 500ms, 30s, 5m, 1h)")
        seconds = float(match[1]) * _UNITS[match[2]]
    else:
        raise ValueError("a duration is a number of seconds or a string such as '30s'")
    if math.isnan(seconds):
        raise ValueError("a duration must be a finite number")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def _human(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _at_most(maximum: float) -> Any:
    """A validator: a duration in any unit, at most `maximum` seconds."""

    def check(value: Any, info: ValidationInfo) -> float:
        seconds = _seconds(value)
        if seconds > maximum and _authoring(info):
            raise ValueError(f"a duration here is at most {_human(maximum)} ({maximum:.0f} s)")
        return seconds

    return check


def _duration_schema(maximum: float) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0, "maximum": maximum},
            {"type": "string", "pattern": _DURATION.pattern},
        ],
        "description": "Seconds, or a string such as '500ms', '30s', '5m', '1h', '2d'; "
        f"at most {_human(maximum)}.",
        "examples": ["30s", "5m", 2.5],
    }


Duration = Annotated[
    float,
    BeforeValidator(_at_most(bounds.MAX_DURATION_SECONDS)),
    PlainSerializer(lambda v: v, return_type=float),
    WithJsonSchema(_duration_schema(bounds.MAX_DURATION_SECONDS)),
]
RetryInterval = Annotated[
    float,
    BeforeValidator(_at_most(bounds.MAX_RETRY_INTERVAL_SECONDS)),
    PlainSerializer(lambda v: v, return_type=float),
    WithJsonSchema(_duration_schema(bounds.MAX_RETRY_INTERVAL_SECONDS)),
]
NodeId = Annotated[str, Field(pattern=NODE_ID)]
Key = Annotated[
    str,
    AfterValidator(_max_length(bounds.MAX_ID_LENGTH)),
    WithJsonSchema({"type": "string", "maxLength": bounds.MAX_ID_LENGTH}),
]
Name = Annotated[
    str,
    AfterValidator(_max_length(bounds.MAX_NAME_LENGTH)),
    WithJsonSchema({"type": "string", "maxLength": bounds.MAX_NAME_LENGTH}),
]
# The Python types a value of each declared input type may have (bool is excluded from
# the numbers by the checks that use it).
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


class RetrySpec(_Model):
    """Retry policy of a node's activity (Temporal semantics)."""

    max_attempts: int = Field(default=3, ge=1, le=bounds.MAX_RETRY_ATTEMPTS)
    initial_interval: RetryInterval = 1.0
    backoff: float = Field(default=2.0, ge=1.0, le=bounds.MAX_RETRY_BACKOFF)
    max_interval: RetryInterval = 60.0
    non_retryable: tuple[Name, ...] = Field(
        default=(), description="Error types that must not be retried."
    )


class InputSpec(_Model):
    """A declared run input."""

    type: Literal["string", "integer", "number", "boolean", "object", "array", "any"] = "string"
    description: str = ""
    required: bool = True
    default: Any = None

    @model_validator(mode="after")
    def _default_fits(self, info: ValidationInfo) -> InputSpec:
        if self.default is None or self.type == "any" or not _authoring(info):
            return self
        allowed = JSON_TYPES[self.type]
        is_bool = isinstance(self.default, bool)
        if (is_bool and self.type != "boolean") or not isinstance(self.default, allowed):
            got = "boolean" if is_bool else type(self.default).__name__
            raise ValueError(f"`default` must be of type {self.type}, got {got}")
        return self


class Limits(_Model):
    max_passes: int | None = Field(
        default=None,
        ge=1,
        le=bounds.MAX_PASSES,
        description="Default visit limit for decisions inside loops (Elysia's recursion limit).",
    )
    max_steps: int = Field(
        default=1000, ge=1, le=bounds.MAX_STEPS, description="Hard cap on node visits."
    )
    continue_as_new_after: int = Field(
        default=4000,
        ge=20,
        le=bounds.MAX_CONTINUE_AS_NEW_AFTER,
        description="History events after which a run continues as new at a safe point.",
    )


class Defaults(_Model):
    retry: RetrySpec = RetrySpec()
    timeout: Duration | None = Field(
        default=None, description="Default start-to-close timeout for tool activities."
    )


class _NodeBase(_Model):
    description: str = ""


class Branch(_Model):
    """One way out of a decision."""

    to: NodeId
    id: Key | None = Field(default=None, description="Branch name; defaults to `to`.")
    when: str | None = Field(default=None, description="Rule expression (rules strategy).")
    description: str = Field(default="", description="What this branch is for (router, llm).")
    keywords: tuple[Name, ...] = ()
    requires: tuple[Name, ...] = Field(
        default=(),
        description="Tool names or node ids that must have completed before this branch "
        "is offered (Elysia's from_tool_ids).",
    )

    @property
    def name(self) -> str:
        return self.id or self.to


class DecisionNode(_NodeBase):
    kind: Literal["decision"]
    strategy: Literal["rules", "router", "llm"] = "rules"
    branches: tuple[Branch, ...] = Field(min_length=1)
    prompt: str | None = Field(
        default=None,
        description="Text the router/LLM routes on (template). Default: `{{ inputs.question }}`.",
    )
    instruction: str = Field(default="", description="The goal given to the decision agent.")
    using: str | None = Field(
        default=None, description="Decision activity and version, e.g. `router@^1`."
    )
    max_passes: int | None = Field(default=None, ge=1, le=bounds.MAX_PASSES)
    on_limit: NodeId | None = Field(
        default=None, description="Where to go when max_passes is reached."
    )
    on_end: NodeId | None = Field(
        default=None, description="Where to go when the agent says the goal is met."
    )
    retry: RetrySpec | None = None
    timeout: Duration | None = None


class ToolNode(_NodeBase):
    kind: Literal["tool"]
    tool: Name = Field(description="Tool name and version constraint, e.g. `query@^2`.")
    args: dict[str, Any] = Field(default_factory=dict)
    next: NodeId | None = None
    on_error: NodeId | None = Field(
        default=None,
        description="Where to go if the tool fails after its retries; the error is recorded "
        "and shown to the next decision.",
    )
    retry: RetrySpec | None = None
    timeout: Duration | None = None
    heartbeat_timeout: Duration | None = Field(
        default=None,
        ge=MIN_HEARTBEAT_TIMEOUT_SECONDS,
        le=MAX_HEARTBEAT_TIMEOUT_SECONDS,
        description="How long the tool may go without a heartbeat before Temporal retries "
        "it elsewhere (1s-1h; default: the tool's own, else 10s).",
    )
    set: dict[Key, Any] = Field(
        default_factory=dict, description="State updates; `result` is this node's output."
    )
    summary: str | None = Field(default=None, description="Shown in the Temporal UI (template).")
    agent_args: bool | tuple[Name, ...] = Field(
        default=False,
        description="Let the LLM decision that routes here write this tool's arguments "
        "(validated against its input model), merged over `args`. `true` allows every "
        "argument; a list allows only the named ones.",
    )


class InputNode(_NodeBase):
    kind: Literal["input"]
    prompt: str = Field(description="The question shown to the user (template).")
    save_as: Key = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="State key.")
    choices: tuple[str, ...] | None = Field(
        default=None, description="Accepted answers (at least one when given)."
    )
    timeout: Duration | None = None
    next: NodeId | None = None
    on_timeout: NodeId | None = None

    @field_validator("choices")
    @classmethod
    def _some_choices(
        cls, value: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        if value == () and _authoring(info):
            raise PydanticCustomError(
                "too_short", "List should have at least 1 item after validation, not 0"
            )
        return value


class ParallelNode(_NodeBase):
    kind: Literal["parallel"]
    branches: tuple[NodeId, ...] = Field(min_length=2)
    join: NodeId
    fail_fast: bool = True


class SubtreeNode(_NodeBase):
    kind: Literal["subtree"]
    tree: Name | None = Field(default=None, description="Name of another tree.")
    spec: TreeSpec | None = Field(default=None, description="An inline tree.")
    inputs: dict[str, Any] = Field(default_factory=dict)
    next: NodeId | None = None
    on_error: NodeId | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SubtreeNode:
        if (self.tree is None) == (self.spec is None):
            raise ValueError("a subtree needs exactly one of `tree` or `spec`")
        return self


class EndNode(_NodeBase):
    kind: Literal["end"]
    output: dict[str, Any] = Field(default_factory=dict)


AnyNode = DecisionNode | ToolNode | InputNode | ParallelNode | SubtreeNode | EndNode
"""Every node kind, a closed union: `match` on it ends in `assert_never`, so mypy
reports each place that does not handle a newly added kind."""

Node = Annotated[AnyNode, Field(discriminator="kind")]

NODE_KINDS: frozenset[str] = frozenset(
    kind for model in get_args(AnyNode) for kind in get_args(model.model_fields["kind"].annotation)
)
"""The `kind` tags of `AnyNode`, derived from it."""


class TreeSpec(_Model):
    """A decision tree as authored."""

    name: str = Field(pattern=TREE_NAME_PATTERN)
    version: str = Field(default="0.1.0", max_length=64)
    description: str = ""
    inputs: dict[Key, InputSpec] | None = None
    state: dict[Key, Any] = Field(default_factory=dict)
    limits: Limits = Limits()
    defaults: Defaults = Defaults()
    start: NodeId
    nodes: dict[NodeId, Node] = Field(min_length=1)

    @field_validator("nodes", mode="before")
    @classmethod
    def _nodes_from_list(cls, value: Any) -> Any:
        """Accept nodes as a list of `{id: ..., kind: ...}` too (handy in JSON)."""
        if not isinstance(value, list):
            return value
        nodes: dict[str, Any] = {}
        for index, item in enumerate(value):
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                raise ValueError(f"nodes[{index}] needs an `id` (a string)")
            node_id = item["id"]
            if node_id in nodes:
                raise ValueError(f"duplicate node id '{shorten(node_id)}'")
            nodes[node_id] = {k: v for k, v in item.items() if k != "id"}
        return nodes

    @field_validator("nodes")
    @classmethod
    def _not_too_many(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if len(value) > bounds.MAX_NODES and _authoring(info):
            raise PydanticCustomError(
                "too_long",
                "Dictionary should have at most {max} items after validation, not {count}",
                {"max": bounds.MAX_NODES, "count": len(value)},
            )
        return value

    @classmethod
    def from_text(cls, text: str) -> TreeSpec:
        """Parse YAML or JSON text (duplicate keys are errors, not silent overwrites)."""
        return cls.model_validate(load_document(text), context={AUTHORING: True})


SubtreeNode.model_rebuild()


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of the tree format."""
    schema = TreeSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://treeflow.dev/schemas/tree.json"
    return schema

"""The tree spec: pydantic models for a decision tree written in YAML or JSON.

These models check shape only (types, required fields, known keys). Meaning
(references, tools, loops, expressions) is checked by `workflows.compiler`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from workflows.activity_defaults import MAX_HEARTBEAT_TIMEOUT_SECONDS, MIN_HEARTBEAT_TIMEOUT_SECONDS

NODE_ID = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def _seconds(value: Any) -> float:
    """Accept `30`, `2.5`, `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"2d"`; return seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration cannot be a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"'{value}' is not a duration (examples: 500ms, 30s, 5m, 1h)")
        seconds = float(match[1]) * _UNITS[match[2]]
    else:
        raise ValueError("a duration is a number of seconds or a string such as '30s'")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(_seconds),
    PlainSerializer(lambda v: v, return_type=float),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": _DURATION.pattern},
            ],
            "description": "Seconds, or a string such as '500ms', '30s', '5m', '1h', '2d'.",
            "examples": ["30s", "5m", 2.5],
        }
    ),
]
NodeId = Annotated[str, Field(pattern=NODE_ID)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RetrySpec(_Model):
    """Retry policy of a node's activity (Temporal semantics)."""

    max_attempts: int = Field(default=3, ge=1, le=100)
    initial_interval: Duration = 1.0
    backoff: float = Field(default=2.0, ge=1.0, le=10.0)
    max_interval: Duration = 60.0
    non_retryable: tuple[str, ...] = Field(
        default=(), description="Error types that must not be retried."
    )


class InputSpec(_Model):
    """A declared run input."""

    type: Literal["string", "integer", "number", "boolean", "object", "array", "any"] = "string"
    description: str = ""
    required: bool = True
    default: Any = None


class Limits(_Model):
    max_passes: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Default visit limit for decisions inside loops (Elysia's recursion limit).",
    )
    max_steps: int = Field(default=1000, ge=1, le=100_000, description="Hard cap on node visits.")
    continue_as_new_after: int = Field(
        default=4000,
        ge=20,
        le=40_000,
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
    id: str | None = Field(default=None, description="Branch name; defaults to `to`.")
    when: str | None = Field(default=None, description="Rule expression (rules strategy).")
    description: str = Field(default="", description="What this branch is for (router, llm).")
    keywords: tuple[str, ...] = ()
    requires: tuple[str, ...] = Field(
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
    max_passes: int | None = Field(default=None, ge=1, le=1000)
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
    tool: str = Field(description="Tool name and version constraint, e.g. `query@^2`.")
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
    set: dict[str, Any] = Field(
        default_factory=dict, description="State updates; `result` is this node's output."
    )
    summary: str | None = Field(default=None, description="Shown in the Temporal UI (template).")
    agent_args: bool | tuple[str, ...] = Field(
        default=False,
        description="Let the LLM decision that routes here write this tool's arguments "
        "(validated against its input model), merged over `args`. `true` allows every "
        "argument; a list allows only the named ones.",
    )


class InputNode(_NodeBase):
    kind: Literal["input"]
    prompt: str = Field(description="The question shown to the user (template).")
    save_as: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="State key.")
    choices: tuple[str, ...] | None = None
    timeout: Duration | None = None
    next: NodeId | None = None
    on_timeout: NodeId | None = None


class ParallelNode(_NodeBase):
    kind: Literal["parallel"]
    branches: tuple[NodeId, ...] = Field(min_length=2)
    join: NodeId
    fail_fast: bool = True


class SubtreeNode(_NodeBase):
    kind: Literal["subtree"]
    tree: str | None = Field(default=None, description="Name of another tree.")
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

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")
    version: str = Field(default="0.1.0", max_length=64)
    description: str = ""
    inputs: dict[str, InputSpec] | None = None
    state: dict[str, Any] = Field(default_factory=dict)
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
            if not isinstance(item, Mapping) or "id" not in item:
                raise ValueError(f"nodes[{index}] needs an `id`")
            node_id = item["id"]
            if node_id in nodes:
                raise ValueError(f"duplicate node id '{node_id}'")
            nodes[node_id] = {k: v for k, v in item.items() if k != "id"}
        return nodes

    @classmethod
    def from_text(cls, text: str) -> TreeSpec:
        """Parse YAML or JSON text (duplicate keys are errors, not silent overwrites)."""
        return cls.model_validate(load_document(text))


class DuplicateKeyError(ValueError):
    """A YAML mapping repeats a key (a duplicate node id, for example)."""


class _StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in mapping:
            line = key_node.start_mark.line + 1
            raise DuplicateKeyError(f"duplicate key '{key}' at line {line}")
        mapping[key] = loader.construct_object(value_node)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_document(text: str) -> Any:
    """YAML or JSON to Python data; JSON is tried first when the text looks like JSON."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text, object_pairs_hook=_no_duplicate_pairs)
        except json.JSONDecodeError:
            pass
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def _no_duplicate_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(f"duplicate key '{key}'")
        result[key] = value
    return result


SubtreeNode.model_rebuild()


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of the tree format."""
    schema = TreeSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://treeflow.dev/schemas/tree.json"
    return schema

"""Payloads that cross the workflow/activity boundary (pure data, sandbox safe)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ToolCall(BaseModel):
    """The input of every tool activity: rendered arguments plus who the call is for.

    Holds no secrets: credentials are fetched by reference inside the activity.
    """

    model_config = ConfigDict(frozen=True)

    args: dict[str, Any] = Field(default_factory=dict)
    tenant_id: str = "default"
    node_id: str = ""
    tree_name: str = ""
    tree_version: str = ""
    definition: dict[str, Any] | None = Field(
        default=None,
        description="A tenant's declarative tool definition, carried from the compiled tree "
        "(None for Python tools).",
    )


class DecisionOption(BaseModel):
    """One branch a decision may take, as the decision agent or router sees it."""

    model_config = ConfigDict(frozen=True)

    id: str
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    tool: str | None = Field(default=None, description="`name@x.y.z` the branch leads to.")
    args: dict[str, Any] = Field(
        default_factory=dict, description="The tool node's fixed (non-templated) arguments."
    )
    accepts_args: bool = Field(
        default=False, description="The decision may write this tool's arguments (agent_args)."
    )
    writable_args: list[str] = Field(
        default_factory=list, description="Which arguments it may write; empty means all."
    )
    args_schema: dict[str, Any] | None = Field(
        default=None, description="Input JSON Schema when the worker cannot look the tool up."
    )
    templated_args: list[str] = Field(
        default_factory=list,
        description="Arguments the tree fills from templates when the tool runs; they count "
        "as provided when the decision's arguments are checked.",
    )


class DecisionInput(BaseModel):
    """What an activity-based decision (router or LLM agent) receives."""

    instruction: str = ""
    prompt: str = ""
    options: list[DecisionOption]
    default: str | None = None
    tasks_completed: list[dict[str, Any]] = Field(default_factory=list)
    errors: dict[str, list[str]] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)


class DecisionOutput(BaseModel):
    """The branch chosen, why, and whether the run should stop."""

    choice: str | None = None
    reasoning: str = ""
    scores: dict[str, float] = Field(default_factory=dict)
    end: bool = False
    impossible: bool = False
    usage: dict[str, Any] = Field(default_factory=dict)
    args: dict[str, Any] = Field(
        default_factory=dict,
        description="Arguments written for the chosen branch's tool (validated against its "
        "input model); merged over the tool node's args when it sets agent_args.",
    )

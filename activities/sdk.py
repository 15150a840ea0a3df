"""The tool SDK: the `@tool` decorator, tool metadata and the typed call context.

A tool is an async function ``async def f(args: In, ctx: ToolContext) -> Out`` or a
class with ``async def run(self, args: In, ctx: ToolContext) -> Out`` where `In` and
`Out` are pydantic models. Decorating attaches a `ToolDefinition` to the object and
changes nothing else: the function stays callable in plain Python, and nothing is
registered at import time (the registry collects definitions explicitly).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol, TypeVar, get_type_hints

import structlog
from pydantic import BaseModel

from activities.versions import ToolRef, Version, activity_name

ToolKind = Literal["tool", "decision"]
T = TypeVar("T")

TOOL_ATTRIBUTE = "__treeflow_tool__"


class SecretResolver(Protocol):
    """Fetches a credential by reference at call time (never stored in histories)."""

    async def __call__(self, tenant_id: str, name: str) -> str: ...


async def no_secrets(tenant_id: str, name: str) -> str:
    """The resolver used when none is configured: every lookup fails clearly."""
    from activities.errors import NonRetryableToolError

    raise NonRetryableToolError(
        f"secret '{name}' requested but no secret store is configured",
        details={"secret": name},
    )


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """Metadata of one tool version: everything a compiler or catalog may read."""

    name: str
    version: Version
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    kind: ToolKind = "tool"
    deprecated: str | None = None
    tags: tuple[str, ...] = ()
    start_to_close_timeout: timedelta = timedelta(seconds=60)
    heartbeat_timeout: timedelta | None = None

    @property
    def activity_name(self) -> str:
        return activity_name(self.name, self.version)

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        return self.output_model.model_json_schema()


@dataclass(frozen=True, slots=True)
class CallInfo:
    """Who and what a tool call is for. Travels in the activity input."""

    tenant_id: str = "default"
    workflow_id: str = ""
    run_id: str = ""
    node_id: str = ""
    tree_name: str = ""
    tree_version: str = ""
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a tool can be offered to the decision agent now, and what the agent should know.

    Class-based tools may define ``async def availability(self, args, ctx) -> Availability``
    (``args`` are the tool node's fixed arguments); the decision activity asks it
    before offering the branch, like Elysia's ``is_tool_available``.
    """

    available: bool = True
    reason: str = ""
    hints: str = ""
    """Context for an agent that writes this tool's arguments (e.g. a collection's fields)."""


class ToolDirectory(Protocol):
    """What a decision activity may ask about the other tools its worker hosts."""

    def spec(self, activity_name: str) -> ToolSpec | None:
        """Metadata of `name@x.y.z`, or None when this worker does not host it."""
        ...

    async def availability(
        self, activity_name: str, args: Mapping[str, Any], caller: ToolContext
    ) -> Availability:
        """Ask the tool whether it can run now with these fixed arguments."""
        ...


@dataclass(slots=True)
class ToolContext:
    """What a tool may use while it runs: identity, config, secrets, logs, heartbeats."""

    info: CallInfo
    spec: ToolSpec
    config: Mapping[str, Any] = field(default_factory=dict)
    secrets: SecretResolver = no_secrets
    heartbeat_hook: Callable[..., None] | None = None
    logger: structlog.stdlib.BoundLogger = field(
        default_factory=lambda: structlog.stdlib.get_logger("treeflow.tool")
    )
    """Bound to the call's run, node, tool and tenant inside a worker (structlog)."""
    tools: ToolDirectory | None = None
    """The worker's other tools (for decision activities); None outside a worker."""
    last_heartbeat_details: tuple[Any, ...] = ()
    """What the tool last passed to `heartbeat` (the worker's automatic beats repeat it)."""

    def heartbeat(self, *details: Any) -> None:
        """Report progress (optional details, kept for a retry) from a long tool.

        The worker already heartbeats while any tool runs (docs/tools.md); call this
        to attach progress details, which Temporal keeps with the call and shows in
        its UI while the call is pending. No-op outside Temporal.
        """
        if details:
            self.last_heartbeat_details = details
        if self.heartbeat_hook is not None:
            self.heartbeat_hook(*details)

    async def secret(self, name: str) -> str:
        """Fetch the tenant's secret `name` by reference."""
        return await self.secrets(self.info.tenant_id, name)

    @classmethod
    def for_testing(
        cls,
        tool: Any,
        *,
        info: CallInfo | None = None,
        config: Mapping[str, Any] | None = None,
        secrets: SecretResolver | None = None,
        tools: ToolDirectory | None = None,
    ) -> ToolContext:
        """A context for calling a tool directly in plain Python (tests, notebooks)."""
        return cls(
            info=info or CallInfo(),
            spec=definition_of(tool).spec,
            config=config or {},
            secrets=secrets or no_secrets,
            tools=tools,
        )


ToolFunction = Callable[[Any, ToolContext], Awaitable[BaseModel]]


class ToolLifecycle(Protocol):
    """Optional hooks a class-based tool may define."""

    async def startup(self, config: Mapping[str, Any]) -> None: ...

    async def shutdown(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A tool version: its metadata plus how to obtain a callable implementation."""

    spec: ToolSpec
    target: Any
    is_class: bool

    @property
    def key(self) -> str:
        return self.spec.activity_name


def definition_of(obj: Any) -> ToolDefinition:
    """The `ToolDefinition` attached by `@tool`, or TypeError."""
    definition = getattr(obj, TOOL_ATTRIBUTE, None)
    if not isinstance(definition, ToolDefinition):
        raise TypeError(f"{obj!r} is not a Treeflow tool (decorate it with @tool)")
    return definition


def is_tool(obj: Any) -> bool:
    return isinstance(getattr(obj, TOOL_ATTRIBUTE, None), ToolDefinition)


def tool(
    *,
    name: str,
    version: str,
    description: str | None = None,
    kind: ToolKind = "tool",
    deprecated: str | None = None,
    tags: tuple[str, ...] = (),
    timeout: timedelta = timedelta(seconds=60),
    heartbeat_timeout: timedelta | None = None,
) -> Callable[[T], T]:
    """Declare a versioned tool.

    The input and output models come from the type hints of the function (or of
    the class's `run` method): first parameter is the input model, the return type
    is the output model. `description` defaults to the docstring; the decision
    agent reads it to choose tools, so make it say when the tool is useful.
    """
    parsed_version = Version.parse(version)
    ToolRef.parse(name)  # validates the name

    def decorate(target: T) -> T:
        is_class = inspect.isclass(target)
        func = target.run if is_class else target  # type: ignore[attr-defined]
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"tool {name}@{version}: the implementation must be `async def`")
        input_model, output_model = _models_from_hints(func, name, version, skip_self=is_class)
        doc = description or inspect.getdoc(target) or ""
        spec = ToolSpec(
            name=name,
            version=parsed_version,
            description=doc.strip(),
            input_model=input_model,
            output_model=output_model,
            kind=kind,
            deprecated=deprecated,
            tags=tags,
            start_to_close_timeout=timeout,
            heartbeat_timeout=heartbeat_timeout,
        )
        setattr(target, TOOL_ATTRIBUTE, ToolDefinition(spec=spec, target=target, is_class=is_class))
        return target

    return decorate


def _models_from_hints(
    func: Callable[..., Any], name: str, version: str, *, skip_self: bool
) -> tuple[type[BaseModel], type[BaseModel]]:
    try:
        hints = get_type_hints(func)
    except NameError as exc:
        raise TypeError(
            f"tool {name}@{version}: cannot resolve type hints ({exc}); "
            "define the input and output models at module level"
        ) from exc
    params = [p for p in inspect.signature(func).parameters.values()]
    if skip_self:
        params = params[1:]
    if not params:
        raise TypeError(f"tool {name}@{version}: the first parameter must be the input model")
    input_model = hints.get(params[0].name)
    output_model = hints.get("return")
    for label, model in (("input", input_model), ("output", output_model)):
        if not (inspect.isclass(model) and issubclass(model, BaseModel)):
            raise TypeError(
                f"tool {name}@{version}: the {label} type must be a pydantic BaseModel, "
                f"got {model!r}"
            )
    assert input_model is not None
    assert output_model is not None
    return input_model, output_model

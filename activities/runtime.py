"""Turns registered tools into Temporal activities named `name@x.y.z`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from opentelemetry.trace import Tracer
from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from activities.call_secrets import CallSecrets
from activities.contracts import ToolCall
from activities.declarative import DeclarativeHttpRunner, DeclarativeHttpTool, tool_spec
from activities.errors import ToolError
from activities.registry import RegistryError, ToolRegistry
from activities.sdk import (
    Availability,
    CallInfo,
    SecretResolver,
    ToolContext,
    ToolDefinition,
    ToolSpec,
    no_secrets,
)
from activities.versions import ToolRef, VersionError
from foundation.secrets.scrub import SecretScrubber, scrubbing
from foundation.telemetry.logs import bind_log_context, get_logger
from foundation.telemetry.metrics import ToolMetrics, usage_totals
from foundation.telemetry.tracing import record_token_counts, tool_scope

log = get_logger("treeflow.activity")

DEFAULT_MAX_OUTPUT_BYTES = 1_000_000
DEFAULTS_KEY = "defaults"
"""Tool config entry every tool sees under its own (e.g. a shared `llm` or `retrieval`)."""
DECLARATIVE_KEY = "declarative_http"
"""Tool config entry of the declarative HTTP runner (`allowed_hosts`, `max_response_bytes`)."""

ActivityCallable = Callable[[ToolCall], Awaitable[dict[str, Any]]]


def to_application_error(error: ToolError) -> ApplicationError:
    """Map a tool error onto Temporal's failure, keeping its type and retryability."""
    return ApplicationError(
        error.message,
        error.details,
        type=error.error_type,
        non_retryable=not error.retryable,
        next_retry_delay=(
            timedelta(seconds=error.retry_after_seconds)
            if error.retry_after_seconds is not None
            else None
        ),
    )


def outcome_of(error: BaseException) -> str:
    """The `outcome` label of a failed tool attempt (see `ToolMetrics.OUTCOMES`)."""
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    if not isinstance(error, ApplicationError):
        return "error"
    if error.type == "InvalidToolInput":
        return "invalid_input"
    if error.type in ("InvalidToolOutput", "ToolOutputTooLarge"):
        return "invalid_output"
    return "non_retryable_error" if error.non_retryable else "retryable_error"


def validation_failure(kind: str, key: str, exc: ValidationError) -> ApplicationError:
    """A non-retryable failure listing each invalid field as `args.<path>: message`."""
    problems = [
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    summary = "; ".join(f"{kind}.{p['field']}: {p['message']}" for p in problems)
    return ApplicationError(
        f"{key}: invalid {kind}: {summary}",
        {"errors": problems},
        type="InvalidToolInput" if kind == "args" else "InvalidToolOutput",
        non_retryable=True,
    )


@dataclass
class ToolHost:
    """Instantiates tools once per worker process and exposes them as activities.

    Class-based tools get `startup(config)` before the worker polls and `shutdown()`
    after it stops, so clients (HTTP pools, database connections) are shared across
    calls instead of being created per call.

    Besides one activity per tool version, the host registers one dynamic activity
    that runs tenants' declarative HTTP tools from the definition carried in the
    call (see `activities.declarative`). It is also the `ToolDirectory` decision
    activities use to read other tools' metadata and availability.

    Every call is observed: its log lines carry the run, node, tool and tenant;
    with `metrics` it counts and times the attempt by `tool@version` and outcome
    and counts LLM usage from the result; with `tracer` its outgoing calls are
    child spans of the activity's span carrying the same identity.
    """

    registry: ToolRegistry
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    secrets: SecretResolver = no_secrets
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    metrics: ToolMetrics | None = None
    tracer: Tracer | None = None
    _instances: dict[str, Any] = field(default_factory=dict)
    _declarative: DeclarativeHttpRunner | None = None

    def tool_config(self, name: str) -> Mapping[str, Any]:
        """`config[name]` over `config["defaults"]` (shallow merge)."""
        return {**self.config.get(DEFAULTS_KEY, {}), **self.config.get(name, {})}

    async def startup(self) -> None:
        if self._declarative is None:
            runner = DeclarativeHttpRunner()
            await runner.startup(self.tool_config(DECLARATIVE_KEY))
            self._declarative = runner
        for definition in self.registry:
            if definition.is_class and definition.key not in self._instances:
                instance = definition.target()
                starter = getattr(instance, "startup", None)
                if starter is not None:
                    await starter(self.tool_config(definition.spec.name))
                self._instances[definition.key] = instance

    async def shutdown(self) -> None:
        for key, instance in list(self._instances.items()):
            stopper = getattr(instance, "shutdown", None)
            if stopper is not None:
                try:
                    await stopper()
                except Exception:
                    log.exception("tool %s failed to shut down cleanly", key)
            del self._instances[key]
        if self._declarative is not None:
            await self._declarative.shutdown()
            self._declarative = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ToolHost]:
        await self.startup()
        try:
            yield self
        finally:
            await self.shutdown()

    def implementation(self, definition: ToolDefinition) -> Callable[..., Awaitable[Any]]:
        if not definition.is_class:
            return definition.target  # type: ignore[no-any-return]
        try:
            return self._instances[definition.key].run  # type: ignore[no-any-return]
        except KeyError:
            raise RuntimeError(f"{definition.key} used before ToolHost.startup()") from None

    def activities(self) -> list[Callable[..., Awaitable[dict[str, Any]]]]:
        """One activity per registered tool version, plus the declarative-tool activity."""
        found: list[Callable[..., Awaitable[dict[str, Any]]]] = [
            self.activity_for(definition) for definition in self.registry
        ]
        found.append(self.declarative_activity())
        return found

    def context(self, spec: ToolSpec, call: ToolCall) -> ToolContext:
        """The context of one call inside an activity.

        Its secrets resolve on behalf of this tool and are remembered, so the host can
        scrub their values from whatever the call returns, raises, heartbeats or logs.
        """
        info = activity.info()
        secrets = CallSecrets(self.secrets, spec.name)
        scrubber = secrets.scrubber

        def heartbeat(*details: Any) -> None:
            activity.heartbeat(*scrubber.scrub_data(list(details)))

        return ToolContext(
            info=CallInfo(
                tenant_id=call.tenant_id,
                workflow_id=info.workflow_id or "",
                run_id=info.workflow_run_id or "",
                node_id=call.node_id,
                tree_name=call.tree_name,
                tree_version=call.tree_version,
                attempt=info.attempt,
            ),
            spec=spec,
            config=self.tool_config(spec.name),
            secrets=secrets,
            heartbeat_hook=heartbeat,
            logger=get_logger(
                "treeflow.tool",
                tool=spec.activity_name,
                node=call.node_id,
                tenant_id=call.tenant_id,
                run_id=info.workflow_id,
                temporal_run_id=info.workflow_run_id,
            ),
            tools=self,
        )

    def activity_for(self, definition: ToolDefinition) -> ActivityCallable:
        spec = definition.spec
        host = self

        async def run_tool(call: ToolCall) -> dict[str, Any]:
            return await host.invoke(definition, call.args, host.context(spec, call))

        run_tool.__name__ = f"tool_{spec.name}_{spec.version}".replace(".", "_")
        run_tool.__qualname__ = run_tool.__name__
        return activity.defn(name=spec.activity_name)(run_tool)

    def declarative_activity(self) -> Callable[[Sequence[RawValue]], Awaitable[dict[str, Any]]]:
        """The dynamic activity: any activity type this worker has no function for.

        A call that carries a declarative definition (a tenant's HTTP tool, embedded in
        the compiled tree) runs it; anything else fails retryably as "not registered",
        as Temporal would without a dynamic activity, so another worker can take it.
        Runs started since `tf-0009` treat that failure as non-retryable and wait for
        the version on its own task queue instead (docs/workflow-versioning.md).
        """
        host = self

        async def run_declarative(raw: Sequence[RawValue]) -> dict[str, Any]:
            name = activity.info().activity_type
            call = activity.payload_converter().from_payload(raw[0].payload, ToolCall)
            if call.definition is None:
                raise ApplicationError(
                    f"no tool {name} is registered on this worker", type="ToolNotRegistered"
                )
            try:
                tool = DeclarativeHttpTool.model_validate(call.definition)
            except ValidationError as exc:
                raise validation_failure("definition", name, exc) from None
            if tool.activity_name != name:
                raise ApplicationError(
                    f"{name}: the carried definition is {tool.activity_name}",
                    type="InvalidToolDefinition",
                    non_retryable=True,
                )
            return await host.invoke_declarative(tool, call)

        return activity.defn(dynamic=True)(run_declarative)

    async def invoke_declarative(self, tool: DeclarativeHttpTool, call: ToolCall) -> dict[str, Any]:
        """Validate, run and serialise one call of a declarative tool, observed."""
        spec = tool_spec(tool)
        context = self.context(spec, call)
        return await self.observed(
            spec,
            context.info,
            lambda: self._invoke_declarative(tool, spec, call, context),
            scrubber=scrubber_of(context),
        )

    async def _invoke_declarative(
        self, tool: DeclarativeHttpTool, spec: ToolSpec, call: ToolCall, context: ToolContext
    ) -> dict[str, Any]:
        try:
            args = spec.input_model.model_validate(call.args)
        except ValidationError as exc:
            raise validation_failure("args", spec.activity_name, exc) from None
        if self._declarative is None:
            raise RuntimeError("declarative tool used before ToolHost.startup()")
        try:
            async with _auto_heartbeat(context, _heartbeat_timeout(spec)):
                result = await self._declarative.run(tool, args, context)
        except ToolError as exc:
            raise to_application_error(exc) from exc
        return self._serialise(spec.activity_name, spec.output_model, result)

    # ------------------------------------------------------------ ToolDirectory

    def spec(self, activity_name: str) -> ToolSpec | None:
        """Metadata of a hosted `name@x.y.z` (None when not hosted here)."""
        name, _, version = activity_name.partition("@")
        try:
            ToolRef.parse(name)
            return self.registry.get(name, version).spec
        except (RegistryError, VersionError):
            return None

    async def availability(
        self, activity_name: str, args: Mapping[str, Any], caller: ToolContext
    ) -> Availability:
        """Ask a hosted class tool's `availability(args, ctx)` hook (others are available)."""
        spec = self.spec(activity_name)
        if spec is None:
            return Availability()
        instance = self._instances.get(activity_name)
        check = getattr(instance, "availability", None)
        if check is None:
            return Availability()
        secrets = CallSecrets(self.secrets, spec.name)
        context = ToolContext(
            info=caller.info,
            spec=spec,
            config=self.tool_config(spec.name),
            secrets=secrets,
            logger=caller.logger,
            tools=self,
        )
        try:
            with scrubbing(secrets.scrubber):
                result = await check(args, context)
        except Exception as exc:  # an availability check must never break a decision
            reason = secrets.scrubber.scrub(str(exc))
            log.warning("availability check of %s failed: %s", activity_name, reason)
            return Availability(available=False, reason=f"availability check failed: {reason}")
        return result if isinstance(result, Availability) else Availability()

    async def invoke(
        self, definition: ToolDefinition, raw_args: Mapping[str, Any], context: ToolContext
    ) -> dict[str, Any]:
        """Validate, run and serialise one call, observed; errors become Temporal failures."""
        return await self.observed(
            definition.spec,
            context.info,
            lambda: self._invoke(definition, raw_args, context),
            scrubber=scrubber_of(context),
        )

    async def observed(
        self,
        spec: ToolSpec,
        info: CallInfo,
        call: Callable[[], Awaitable[dict[str, Any]]],
        *,
        scrubber: SecretScrubber | None = None,
    ) -> dict[str, Any]:
        """Run one tool call with its log context, span identity, metrics and usage.

        With a `scrubber`, the values of the secrets the call resolved are replaced in
        its result, its error (message, details, causes) and every line logged meanwhile.
        """
        scrubber = scrubber if scrubber is not None else SecretScrubber()
        with (
            scrubbing(scrubber),
            bind_log_context(
                run_id=info.workflow_id,
                temporal_run_id=info.run_id,
                tenant_id=info.tenant_id,
                node=info.node_id,
                tool=spec.activity_name,
                tree=info.tree_name,
            ),
            tool_scope(
                name=spec.name,
                version=str(spec.version),
                tenant=info.tenant_id,
                node=info.node_id,
                run_id=info.workflow_id,
                tracer=self.tracer,
            ),
        ):
            started = time.perf_counter()
            try:
                data = await call()
            except BaseException as exc:
                if self.metrics is not None:
                    self.metrics.tool_finished(
                        spec.activity_name, outcome_of(exc), time.perf_counter() - started
                    )
                if isinstance(exc, asyncio.CancelledError):
                    raise
                scrubbed = scrubber.scrub_exception(exc)
                if scrubbed is exc:
                    raise
                raise scrubbed from None
            data = dict(scrubber.scrub_data(data))
            if self.metrics is not None:
                self.metrics.tool_finished(spec.activity_name, "ok", time.perf_counter() - started)
                self.metrics.llm_usage(info.tenant_id, data)
            record_token_counts(usage_totals(data))
            return data

    async def _invoke(
        self, definition: ToolDefinition, raw_args: Mapping[str, Any], context: ToolContext
    ) -> dict[str, Any]:
        spec = definition.spec
        try:
            args = spec.input_model.model_validate(raw_args)
        except ValidationError as exc:
            raise validation_failure("args", spec.activity_name, exc) from None
        implementation = self.implementation(definition)
        try:
            async with _auto_heartbeat(context, _heartbeat_timeout(spec)):
                result = await implementation(args, context)
        except ToolError as exc:
            raise to_application_error(exc) from exc
        return self._serialise(spec.activity_name, spec.output_model, result)

    def _serialise(self, key: str, model: type[BaseModel], result: Any) -> dict[str, Any]:
        try:
            output = result if isinstance(result, model) else model.model_validate(result)
        except ValidationError as exc:
            raise validation_failure("output", key, exc) from None
        data = output.model_dump(mode="json")
        size = len(json.dumps(data, separators=(",", ":")))
        if size > self.max_output_bytes:
            raise ApplicationError(
                f"{key}: output is {size} bytes, above the {self.max_output_bytes}-byte limit; "
                "return a reference or a smaller page instead of the whole payload",
                type="ToolOutputTooLarge",
                non_retryable=True,
            )
        return data


def _heartbeat_timeout(spec: ToolSpec) -> timedelta | None:
    """The call's heartbeat timeout as scheduled by the workflow, else the tool's own."""
    try:
        scheduled = activity.info().heartbeat_timeout
    except RuntimeError:  # called outside an activity (tests, direct invocation)
        scheduled = None
    return scheduled or spec.heartbeat_timeout


def scrubber_of(context: ToolContext) -> SecretScrubber:
    """The scrubber of a call whose context the host built (a fresh one otherwise)."""
    secrets = context.secrets
    return secrets.scrubber if isinstance(secrets, CallSecrets) else SecretScrubber()


@contextlib.asynccontextmanager
async def _auto_heartbeat(
    context: ToolContext, heartbeat_timeout: timedelta | None
) -> AsyncIterator[None]:
    """Heartbeat in the background while a tool runs, so a dead worker is noticed.

    Beats three times per timeout (Temporal sends at most one per 0.8 timeout), each
    repeating the details the tool last reported with `ctx.heartbeat(...)`, so a
    tool's own progress survives the automatic beats. A tool that blocks the event
    loop stops the beats too: run blocking work in a thread (`asyncio.to_thread`).
    """
    if heartbeat_timeout is None or context.heartbeat_hook is None:
        yield
        return
    interval = max(heartbeat_timeout.total_seconds() / 3, 0.05)
    loop = asyncio.get_running_loop()
    timer: asyncio.TimerHandle | None = None

    def beat() -> None:
        nonlocal timer
        timer = loop.call_later(interval, beat)
        context.heartbeat(*context.last_heartbeat_details)

    # A timer, not a task: most calls end before the first beat, and a task per call
    # was a measurable part of the tool host's cost (bench/overhead.py).
    timer = loop.call_later(interval, beat)
    try:
        yield
    finally:
        timer.cancel()

"""OpenTelemetry tracing: the tracer provider, tool attributes on spans, usage attributes.

`build_tracer_provider` returns None unless OTLP export is configured through the
standard `OTEL_*` variables (or an exporter is passed, as tests do); the OTLP/HTTP
exporter reads its endpoint, headers and timeout from those variables itself.

While a tool runs, `tool_scope` makes its identity current; `ToolSpanAttributes`
stamps `tool.name`, `tool.version`, `tenant`, `treeflow.node` and `treeflow.run_id`
on every span started inside it, so outgoing calls (httpx, the LLM client,
Weaviate) made by a tool are child spans that say which tool and tenant made them.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from foundation.telemetry.settings import tracing_requested

TRACER_NAME = "treeflow"

_tool_attributes: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "treeflow_tool_span_attributes", default=None
)
_tool_tracer: contextvars.ContextVar[trace.Tracer | None] = contextvars.ContextVar(
    "treeflow_tool_tracer", default=None
)


class ToolSpanAttributes(SpanProcessor):
    """Copies the running tool's identity onto every span started while it runs."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = _tool_attributes.get()
        if attributes:
            span.set_attributes(dict(attributes))

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@contextlib.contextmanager
def tool_scope(
    *,
    name: str,
    version: str,
    tenant: str,
    node: str = "",
    run_id: str = "",
    tracer: trace.Tracer | None = None,
) -> Iterator[Mapping[str, str]]:
    """Make a tool call's identity (and the worker's tracer) current for its spans.

    Also stamps the identity on the current span, the activity's `RunActivity` span.
    """
    attributes = {
        "tool.name": name,
        "tool.version": version,
        "tenant": tenant,
        "treeflow.node": node,
        "treeflow.run_id": run_id,
    }
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(attributes)
    token = _tool_attributes.set(attributes)
    tracer_token = _tool_tracer.set(tracer)
    try:
        yield attributes
    finally:
        _tool_tracer.reset(tracer_token)
        _tool_attributes.reset(token)


def record_token_counts(totals: Mapping[str, int], span: Any | None = None) -> None:
    """Put LLM token counts (`prompt`, `completion`) on a span (default: the current one)."""
    target = span or trace.get_current_span()
    if not totals or not target.is_recording():
        return
    prompt = int(totals.get("prompt", 0))
    completion = int(totals.get("completion", 0))
    target.set_attributes(
        {
            "llm.tokens.prompt": prompt,
            "llm.tokens.completion": completion,
            "llm.tokens.total": prompt + completion,
        }
    )


@contextlib.contextmanager
def outgoing_call(name: str, **attributes: str | int | float | bool) -> Iterator[Any]:
    """A child span for an outgoing call a tool makes without an instrumented client.

    Uses the worker's tracer while a tool runs (no-op spans when tracing is off).
    """
    tracer = _tool_tracer.get() or trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        name, kind=trace.SpanKind.CLIENT, attributes=attributes
    ) as span:
        yield span


def build_tracer_provider(
    service_name: str,
    *,
    exporter: SpanExporter | None = None,
    environ: Mapping[str, str] | None = None,
    batch: bool = True,
) -> TracerProvider | None:
    """A provider exporting to `exporter`, or over OTLP/HTTP when `OTEL_*` asks for it.

    Returns None when tracing is off (the default). `OTEL_SERVICE_NAME` and
    `OTEL_RESOURCE_ATTRIBUTES` override the resource, as the specification says.
    """
    if exporter is None:
        if not tracing_requested(environ):
            return None
        exporter = _exporter_from_environment(environ)
    env = os.environ if environ is None else environ
    named = "OTEL_SERVICE_NAME" in env or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
    resource = Resource.create({} if named else {"service.name": service_name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(ToolSpanAttributes())
    provider.add_span_processor(
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    return provider


def _exporter_from_environment(environ: Mapping[str, str] | None) -> SpanExporter:
    env = os.environ if environ is None else environ
    if "console" in env.get("OTEL_TRACES_EXPORTER", "").lower():
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


class _ToolAwareTracer(trace.Tracer):
    """Starts each span with the running tool's tracer, else the process's provider.

    httpx is instrumented once per process, but several workers (and tests) may run
    in one process with different providers: a tool's outgoing request must land in
    the trace of the worker that runs the tool.
    """

    def __init__(self, provider: _ToolAwareProvider, name: str) -> None:
        self._provider = provider
        self._name = name

    def _target(self) -> trace.Tracer:
        tool_tracer = _tool_tracer.get()
        if tool_tracer is not None:
            return tool_tracer
        fallback = self._provider.fallback
        return fallback.get_tracer(self._name) if fallback else trace.NoOpTracer()

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._target().start_span(*args, **kwargs)

    @contextlib.contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        with self._target().start_as_current_span(*args, **kwargs) as span:
            yield span


class _ToolAwareProvider(trace.TracerProvider):
    def __init__(self) -> None:
        self.fallback: TracerProvider | None = None

    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _ToolAwareTracer(self, instrumenting_module_name)


_HTTPX_PROVIDER = _ToolAwareProvider()


def instrument_httpx(provider: TracerProvider) -> None:
    """Trace every httpx request of this process as a client span.

    Spans go to the tracer of the tool that makes the request (so each worker's
    tools trace into that worker's provider), else to `provider` (the latest given).
    """
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    _HTTPX_PROVIDER.fallback = provider
    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=_HTTPX_PROVIDER)


def uninstrument_httpx() -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    _HTTPX_PROVIDER.fallback = None

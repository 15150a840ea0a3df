"""One trace from the request that starts a run, through the workflow, to every tool call."""

from __future__ import annotations

import uuid

from opentelemetry.trace import SpanKind

from tests.support.http_server import http_server
from tests.support.observed import Observed
from tests.support.traces import Trace
from tests.support.trees import end, tool_node, tree

WORKFLOW = "DecisionTreeWorkflow"


def three_tools(url: str) -> dict[str, object]:
    return tree(
        {
            "greet": tool_node("text_response", {"text": "hello"}, next="ask"),
            "ask": tool_node("fake_llm", {"prompt": "{{ results.greet.text }}"}, next="fetch"),
            "fetch": tool_node("http_request", {"url": f"{url}/json"}, next="done"),
            "done": end({"status": "{{ results.fetch.status }}"}),
        },
        name="traced",
    )


async def test_one_trace_links_request_workflow_activities_and_outgoing_calls(
    observed: Observed,
) -> None:
    provider = observed.telemetry.tracer_provider
    assert provider is not None
    tracer = provider.get_tracer("tests.api")
    who = f"trace-{uuid.uuid4().hex[:6]}"
    with http_server() as upstream:
        with tracer.start_as_current_span("POST /v1/runs", kind=SpanKind.SERVER) as request:
            handle = await observed.start(three_tools(upstream.url), tenant=who)
        result = await handle.result()
    assert result.output == {"status": 200}
    trace_id = request.get_span_context().trace_id
    trace = Trace(observed.exporter.get_finished_spans(), trace_id)

    start = trace.one(f"StartWorkflow:{WORKFLOW}")
    assert trace.parent_of(start) is trace.one("POST /v1/runs")
    assert trace.parent_of(trace.one(f"RunWorkflow:{WORKFLOW}")) is start
    for tool in ("text_response@1.0.0", "fake_llm@1.0.0", "http_request@1.0.0"):
        assert_tool_spans(trace, tool, tenant=who, run_id=handle.id)

    llm = trace.one("RunActivity:fake_llm@1.0.0").attributes or {}
    assert (llm["llm.tokens.prompt"], llm["llm.tokens.completion"]) == (150, 25)
    assert llm["llm.tokens.total"] == 175

    outgoing = [s for s in trace.spans if s.kind == SpanKind.CLIENT and s.name.startswith("GET")]
    assert len(outgoing) == 1, sorted(trace.names())
    http = outgoing[0]
    assert trace.parent_of(http) is trace.one("RunActivity:http_request@1.0.0")
    attributes = http.attributes or {}
    assert (attributes["tool.name"], attributes["tool.version"]) == ("http_request", "1.0.0")
    assert attributes["tenant"] == who
    assert upstream.requests[0]["headers"].get("traceparent", "").split("-")[1] == (
        f"{trace_id:032x}"
    )  # the trace continues into the called service


def assert_tool_spans(trace: Trace, tool: str, *, tenant: str, run_id: str) -> None:
    """A tool call is scheduled below the workflow start and runs below its schedule,
    its run span naming the tool, version, tenant and run."""
    scheduled = trace.one(f"StartActivity:{tool}")
    executed = trace.one(f"RunActivity:{tool}")
    # Temporal's TracingInterceptor: workflow spans are zero-length marks in the
    # workflow's context, which is the start span; activities hang below it.
    assert trace.parent_of(scheduled) is trace.one(f"StartWorkflow:{WORKFLOW}")
    assert trace.parent_of(executed) is scheduled
    name, _, version = tool.partition("@")
    attributes = executed.attributes or {}
    assert (attributes["tool.name"], attributes["tool.version"]) == (name, version)
    assert (attributes["tenant"], attributes["treeflow.run_id"]) == (tenant, run_id)

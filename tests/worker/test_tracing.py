"""One trace from the request that starts a run, through the workflow, to every tool call."""

from __future__ import annotations

import uuid

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from tests.support.http_server import http_server
from tests.support.observed import Observed
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
    spans = [
        s
        for s in observed.exporter.get_finished_spans()
        if s.context is not None and s.context.trace_id == trace_id
    ]
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)

    def one(name: str) -> ReadableSpan:
        found = by_name.get(name, [])
        assert len(found) == 1, f"{name}: {len(found)} spans; have {sorted(by_name)}"
        return found[0]

    def parent_of(span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None, f"{span.name} has no parent"
        matches = [s for s in spans if s.context and s.context.span_id == span.parent.span_id]
        assert matches, f"parent of {span.name} is not in the trace"
        return matches[0]

    root = one("POST /v1/runs")
    start = one(f"StartWorkflow:{WORKFLOW}")
    run = one(f"RunWorkflow:{WORKFLOW}")
    assert parent_of(start) is root
    assert parent_of(run) is start
    for tool in ("text_response@1.0.0", "fake_llm@1.0.0", "http_request@1.0.0"):
        scheduled = one(f"StartActivity:{tool}")
        executed = one(f"RunActivity:{tool}")
        # Temporal's TracingInterceptor: workflow spans are zero-length marks in the
        # workflow's context, which is the start span; activities hang below it.
        assert parent_of(scheduled) is start
        assert parent_of(executed) is scheduled
        name, _, version = tool.partition("@")
        attributes = executed.attributes or {}
        assert attributes["tool.name"] == name
        assert attributes["tool.version"] == version
        assert attributes["tenant"] == who
        assert attributes["treeflow.run_id"] == handle.id

    llm = one("RunActivity:fake_llm@1.0.0").attributes or {}
    assert llm["llm.tokens.prompt"] == 150
    assert llm["llm.tokens.completion"] == 25
    assert llm["llm.tokens.total"] == 175

    outgoing = [s for s in spans if s.kind == SpanKind.CLIENT and s.name.startswith("GET")]
    assert len(outgoing) == 1, [s.name for s in spans]
    http = outgoing[0]
    assert parent_of(http) is one("RunActivity:http_request@1.0.0")
    attributes = http.attributes or {}
    assert attributes["tool.name"] == "http_request"
    assert attributes["tool.version"] == "1.0.0"
    assert attributes["tenant"] == who
    assert upstream.requests[0]["headers"].get("traceparent", "").split("-")[1] == (
        f"{trace_id:032x}"
    )  # the trace continues into the called service

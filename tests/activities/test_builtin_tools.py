from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from activities.builtin.http_request import HttpRequest, HttpRequestInput, host_allowed
from activities.builtin.router import route
from activities.builtin.summarize import SummarizeInput, summarize
from activities.builtin.text_response import TextResponseInput, text_response
from activities.contracts import DecisionInput, DecisionOption
from activities.errors import (
    NonRetryableToolError,
    RetryableToolError,
    ToolNotAllowed,
    ToolUnavailable,
)
from activities.sdk import ToolContext
from tests.support.http_server import _Server, http_server


async def test_text_response_trims() -> None:
    out = await text_response(
        TextResponseInput(text="  hi  "), ToolContext.for_testing(text_response)
    )
    assert out.text == "hi"


async def test_summarize_prefers_sentences_about_the_query_and_keeps_order() -> None:
    text = (
        "The weather was mild all week. Refunds are sent within five days. "
        "Our office cat is called Miso. A refund needs the original receipt."
    )
    out = await summarize(
        SummarizeInput(text=text, query="how do refunds work", max_sentences=2),
        ToolContext.for_testing(summarize),
    )
    assert out.sentences == [
        "Refunds are sent within five days.",
        "A refund needs the original receipt.",
    ]
    assert out.source_sentences == 4
    assert out.summary == " ".join(out.sentences)


async def test_summarize_handles_lists_and_empty_text() -> None:
    ctx = ToolContext.for_testing(summarize)
    out = await summarize(SummarizeInput(text=["One thing.", "Another thing."]), ctx)
    assert out.sentences == ["One thing.", "Another thing."]
    empty = await summarize(SummarizeInput(text=""), ctx)
    assert empty.summary == ""


def _decision(prompt: str, default: str | None = None) -> DecisionInput:
    return DecisionInput(
        prompt=prompt,
        default=default,
        options=[
            DecisionOption(
                id="billing", description="invoices refunds payments", keywords=["charge"]
            ),
            DecisionOption(id="bugs", description="errors crashes failures"),
        ],
    )


def test_router_picks_the_best_matching_branch() -> None:
    result = route(_decision("I was charged twice, please refund"))
    assert result.choice == "billing"
    assert result.scores["billing"] > result.scores["bugs"] == 0.0
    assert route(_decision("the app crashes with errors")).choice == "bugs"


def test_router_falls_back_to_the_default_when_nothing_matches() -> None:
    result = route(_decision("hello there", default="bugs"))
    assert result.choice == "bugs"
    assert "default" in result.reasoning


@pytest.mark.parametrize(
    ("host", "patterns", "allowed"),
    [
        ("api.example.com", ["api.example.com"], True),
        ("API.Example.com.", ["api.example.com"], True),
        ("x.example.com", ["*.example.com"], True),
        ("example.com.evil.org", ["*.example.com"], False),
        ("127.0.0.1", [], False),
    ],
)
def test_host_allow_list(host: str, patterns: list[str], allowed: bool) -> None:
    assert host_allowed(host, patterns) is allowed


@pytest.fixture
def server() -> Iterator[_Server]:
    with http_server() as running:
        yield running


@pytest.fixture
async def http_tool() -> AsyncIterator[HttpRequest]:
    instance = HttpRequest()
    await instance.startup({"allowed_hosts": ["127.0.0.1"], "max_response_bytes": 10_000})
    yield instance
    await instance.shutdown()


async def _secret(tenant_id: str, name: str) -> str:
    assert tenant_id == "default"
    return {"api_token": "s3cret-token"}[name]


def _ctx() -> ToolContext:
    return ToolContext.for_testing(HttpRequest, secrets=_secret)


async def call(tool: HttpRequest, **args: Any) -> Any:
    return await tool.run(HttpRequestInput(**args), _ctx())


async def test_http_get_json(http_tool: HttpRequest, server: _Server) -> None:
    out = await call(http_tool, url=f"{server.url}/json", params={"q": "a b"})
    assert out.status == 200
    assert out.json_body == {"ok": True, "query": "q=a+b"}
    assert out.url == f"{server.url}/json"


async def test_http_post_sends_json(http_tool: HttpRequest, server: _Server) -> None:
    out = await call(http_tool, method="POST", url=f"{server.url}/hook", json_body={"n": 1})
    assert out.status == 201
    assert server.requests[-1]["body"] == {"n": 1}


async def test_http_client_errors_are_not_retried(http_tool: HttpRequest, server: _Server) -> None:
    with pytest.raises(NonRetryableToolError, match="answered 404"):
        await call(http_tool, url=f"{server.url}/missing")


async def test_http_server_errors_are_retried_after_retry_after(
    http_tool: HttpRequest, server: _Server
) -> None:
    with pytest.raises(RetryableToolError) as info:
        await call(http_tool, url=f"{server.url}/busy")
    assert info.value.retry_after_seconds == 7.0


async def test_http_hosts_outside_the_allow_list_are_refused(http_tool: HttpRequest) -> None:
    with pytest.raises(ToolNotAllowed, match=r"'example\.com' is not in the http_request allow"):
        await call(http_tool, url="http://example.com/")


async def test_http_redirects_are_checked_hop_by_hop(
    http_tool: HttpRequest, server: _Server
) -> None:
    inside = await call(http_tool, url=f"{server.url}/redirect-inside")
    assert inside.json_body["ok"] is True
    with pytest.raises(ToolNotAllowed, match=r"example\.com"):
        await call(http_tool, url=f"{server.url}/redirect-outside")


async def test_http_timeouts_are_retryable(http_tool: HttpRequest, server: _Server) -> None:
    with pytest.raises(ToolUnavailable, match="timed out"):
        await call(http_tool, url=f"{server.url}/slow", timeout_seconds=0.3)


async def test_http_large_bodies_are_truncated(http_tool: HttpRequest, server: _Server) -> None:
    out = await call(http_tool, url=f"{server.url}/big")
    assert out.truncated is True
    assert out.text is not None
    assert len(out.text) == 10_000


async def test_http_secret_headers_are_resolved_by_reference(
    http_tool: HttpRequest, server: _Server
) -> None:
    out = await call(
        http_tool,
        url=f"{server.url}/auth",
        secret_headers={"Authorization": {"secret": "api_token", "template": "Bearer {secret}"}},
    )
    assert out.status == 200
    assert "s3cret" not in out.model_dump_json()


async def test_http_connection_refused_is_retryable(http_tool: HttpRequest) -> None:
    with pytest.raises(ToolUnavailable, match="failed"):
        await call(http_tool, url="http://127.0.0.1:9/nothing-listens-here")


def test_http_input_rejects_non_http_urls() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        HttpRequestInput(url="file:///etc/passwd")

"""The OpenAI-compatible provider against a real chat-completions server process."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

from activities.errors import (
    NonRetryableToolError,
    RetryableToolError,
    ToolError,
    ToolUnavailable,
)
from activities.llm import (
    InvalidModelOutput,
    LLMConfig,
    Message,
    ProviderPool,
    complete_structured,
)
from activities.llm.openai_compat import OpenAICompatibleProvider, retry_after
from activities.sdk import CallInfo, ToolContext, tool
from tests.activities.llm.conftest import ChatServer


class _In(BaseModel):
    x: int = 0


class _Out(BaseModel):
    x: int = 0


@tool(name="llm_probe", version="1.0.0")
async def llm_probe(args: _In, ctx: ToolContext) -> _Out:
    """A tool whose context the provider tests borrow."""
    return _Out()


KEYS = {("acme", "openai_api_key"): "sk-acme", ("globex", "openai_api_key"): "sk-globex"}


async def _secrets(tenant_id: str, name: str) -> str:
    return KEYS[(tenant_id, name)]


def _ctx(tenant: str = "acme") -> ToolContext:
    return ToolContext.for_testing(llm_probe, info=CallInfo(tenant_id=tenant), secrets=_secrets)


def _config(chat: ChatServer, **extra: Any) -> LLMConfig:
    return LLMConfig.model_validate(
        {
            "provider": "openai",
            "base_url": chat.base_url,
            "timeout_seconds": 5,
            "tiers": {
                "base": {
                    "model": "small-model",
                    "input_cost_per_million": 1.0,
                    "output_cost_per_million": 2.0,
                },
                "complex": {"model": "big-model"},
            },
            **extra,
        }
    )


@pytest.fixture
async def pool() -> AsyncIterator[ProviderPool]:
    providers = ProviderPool()
    yield providers
    await providers.close()


HELLO = [Message(role="system", content="Be brief."), Message(role="user", content="hello")]


async def test_a_completion_records_usage_cost_and_uses_the_tenant_key(
    chat: ChatServer, pool: ProviderPool
) -> None:
    chat.script({"content": "hi there", "usage": {"prompt_tokens": 1000, "completion_tokens": 500}})
    provider = await pool.get(_config(chat), _ctx("acme"))
    assert provider is not None
    result = await provider.complete(HELLO, tier="base")
    assert result.text == "hi there"
    assert result.usage.model == "small-model"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (1000, 500)
    assert result.usage.total_tokens == 1500
    assert result.usage.cost_usd == pytest.approx(0.002)
    [request] = chat.requests()
    assert request["authorization"] == "Bearer sk-acme"
    assert request["body"]["model"] == "small-model"
    assert request["body"]["messages"][1] == {"role": "user", "content": "hello"}


async def test_the_complex_tier_uses_its_model_and_has_no_cost_without_prices(
    chat: ChatServer, pool: ProviderPool
) -> None:
    provider = await pool.get(_config(chat), _ctx())
    assert provider is not None
    result = await provider.complete(HELLO, tier="complex")
    assert result.usage.model == "big-model"
    assert result.usage.cost_usd is None
    assert chat.requests()[0]["body"]["model"] == "big-model"


async def test_one_client_per_tenant_key_reused_across_calls(
    chat: ChatServer, pool: ProviderPool
) -> None:
    config = _config(chat)
    first = await pool.get(config, _ctx("acme"))
    again = await pool.get(config, _ctx("acme"))
    other = await pool.get(config, _ctx("globex"))
    assert first is again
    assert other is not first
    assert other is not None
    await other.complete(HELLO)
    assert chat.requests()[0]["authorization"] == "Bearer sk-globex"


async def test_no_provider_when_none_is_configured(pool: ProviderPool) -> None:
    assert await pool.get(LLMConfig(), _ctx()) is None


FailureT = TypeVar("FailureT", bound=ToolError)


async def failed_completion(config: LLMConfig, expected: type[FailureT]) -> FailureT:
    """The error one completion raises (the provider closed afterwards)."""
    provider = OpenAICompatibleProvider(config, "sk")
    try:
        with pytest.raises(expected) as info:
            await provider.complete(HELLO)
    finally:
        await provider.close()
    return info.value


@pytest.mark.parametrize(
    ("reply", "retry_after_seconds"),
    [
        ({"status": 429, "headers": {"Retry-After": "7"}}, 7.0),
        ({"status": 429, "headers": {"retry-after-ms": "1500"}}, 1.5),
        ({"status": 503, "headers": {"Retry-After": "2"}}, 2.0),
        ({"status": 500}, None),
        ({"status": 408}, None),
    ],
)
async def test_rate_limits_and_server_errors_are_retryable_with_retry_after(
    chat: ChatServer, reply: dict[str, Any], retry_after_seconds: float | None
) -> None:
    chat.script(reply)
    error = await failed_completion(_config(chat), RetryableToolError)
    assert error.retryable
    assert error.retry_after_seconds == retry_after_seconds
    assert f"answered {reply['status']}" in error.message
    assert len(chat.requests()) == 1  # max_retries=0: Temporal retries, not the SDK


@pytest.mark.parametrize(
    ("status", "fragment"),
    [(400, "bad prompt"), (401, "api_key_ref"), (403, "api_key_ref"), (404, "no such model")],
)
async def test_client_errors_are_not_retryable(
    chat: ChatServer, status: int, fragment: str
) -> None:
    chat.script({"status": status, "content": "bad prompt" if status == 400 else "no such model"})
    error = await failed_completion(_config(chat), NonRetryableToolError)
    assert not error.retryable
    assert fragment in error.message
    assert error.details == {"status": status}


async def test_a_slow_endpoint_times_out_as_retryable(chat: ChatServer) -> None:
    chat.script({"delay": 2.0, "content": "late"})
    error = await failed_completion(_config(chat, timeout_seconds=0.3), ToolUnavailable)
    assert "did not answer within 0.3s" in error.message


async def test_an_unreachable_endpoint_is_retryable() -> None:
    config = LLMConfig(provider="openai", base_url="http://127.0.0.1:9/v1", timeout_seconds=2)
    assert "cannot reach" in (await failed_completion(config, ToolUnavailable)).message


class Verdict(BaseModel):
    label: str
    confidence: float


async def test_structured_output_sends_the_schema_and_validates(chat: ChatServer) -> None:
    chat.script({"content": {"label": "billing", "confidence": 0.9}})
    provider = OpenAICompatibleProvider(_config(chat), "sk")
    try:
        result = await complete_structured(provider, HELLO, Verdict)
    finally:
        await provider.close()
    assert result.value == Verdict(label="billing", confidence=0.9)
    assert result.reasks == 0
    fmt = chat.requests()[0]["body"]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Verdict"
    assert fmt["json_schema"]["schema"]["required"] == ["label", "confidence"]


async def test_invalid_structured_output_is_re_asked_with_the_problem(chat: ChatServer) -> None:
    chat.script(
        {"content": '```json\n{"label": "billing"}\n```'},
        {"content": {"label": "billing", "confidence": 0.5}},
    )
    provider = OpenAICompatibleProvider(_config(chat), "sk")
    try:
        result = await complete_structured(provider, HELLO, Verdict)
    finally:
        await provider.close()
    assert result.reasks == 1
    assert len(result.usage) == 2
    second = chat.requests()[1]["body"]["messages"]
    assert second[-1]["role"] == "user"
    assert "confidence: Field required" in second[-1]["content"]


async def test_structured_output_gives_up_after_two_re_asks(chat: ChatServer) -> None:
    chat.script({"content": "not json"}, {"content": "still not"}, {"content": "{}"})
    provider = OpenAICompatibleProvider(_config(chat), "sk")
    try:
        with pytest.raises(InvalidModelOutput, match="no valid answer in 3 attempts") as info:
            await complete_structured(provider, HELLO, Verdict)
    finally:
        await provider.close()
    assert not info.value.retryable
    assert len(chat.requests()) == 3


async def test_json_object_mode_puts_the_schema_in_the_prompt(chat: ChatServer) -> None:
    chat.script({"content": {"label": "x", "confidence": 1}})
    provider = OpenAICompatibleProvider(_config(chat, structured_output="json_object"), "sk")
    try:
        await complete_structured(provider, HELLO, Verdict)
    finally:
        await provider.close()
    body = chat.requests()[0]["body"]
    assert body["response_format"] == {"type": "json_object"}
    assert "JSON Schema" in body["messages"][-1]["content"]


def test_retry_after_parses_seconds_milliseconds_and_dates() -> None:
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "100000"}) == 300.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_invalid_llm_config_names_the_field() -> None:
    from activities.llm import llm_config

    with pytest.raises(NonRetryableToolError, match=r"llm\.tiers\.base\.model: Field required"):
        llm_config({"llm": {"provider": "openai", "tiers": {"base": {}}}})
    with pytest.raises(NonRetryableToolError, match=r"llm\.provider"):
        llm_config({"llm": {"provider": "magic"}})


LIVE_REASON = "OPENAI_BASE_URL not set: the live OpenAI-compatible test needs an endpoint"


async def test_live_endpoint_answers_structured_output(pool: ProviderPool) -> None:
    base_url = os.environ.get("OPENAI_BASE_URL")
    if not base_url:
        print(LIVE_REASON)
        pytest.skip(LIVE_REASON)
    model = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
    config = LLMConfig.model_validate(
        {
            "provider": "openai",
            "base_url": base_url,
            "api_key_ref": "key" if os.environ.get("OPENAI_API_KEY") else None,
            "tiers": {"base": {"model": model}},
        }
    )

    async def env_key(tenant_id: str, name: str) -> str:
        return os.environ["OPENAI_API_KEY"]

    ctx = ToolContext.for_testing(llm_probe, secrets=env_key)
    provider = await pool.get(config, ctx)
    assert provider is not None
    question = [Message(role="user", content="Classify 'I was charged twice' as a label.")]
    result = await complete_structured(provider, question, Verdict)
    assert result.value.label
    assert result.usage[0].total_tokens > 0


async def test_a_completion_is_a_child_span_with_tool_tenant_and_token_counts(
    chat: ChatServer, pool: ProviderPool
) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from foundation.telemetry.tracing import build_tracer_provider, tool_scope

    exporter = InMemorySpanExporter()
    provider_ = build_tracer_provider("llm-test", exporter=exporter, batch=False)
    assert provider_ is not None
    tracer = provider_.get_tracer("test")
    chat.script({"content": "ok", "usage": {"prompt_tokens": 12, "completion_tokens": 3}})
    provider = await pool.get(_config(chat), _ctx("acme"))
    assert provider is not None
    with (
        tracer.start_as_current_span("RunActivity:llm_probe@1.0.0") as activity,
        tool_scope(name="llm_probe", version="1.0.0", tenant="acme", tracer=tracer),
    ):
        await provider.complete(HELLO, tier="base")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    llm = spans["llm.chat"]
    assert llm.parent is not None
    assert llm.parent.span_id == activity.get_span_context().span_id
    attributes = dict(llm.attributes or {})
    assert attributes["tool.name"] == "llm_probe"
    assert attributes["tool.version"] == "1.0.0"
    assert attributes["tenant"] == "acme"
    assert attributes["llm.model"] == "small-model"
    assert (attributes["llm.tokens.prompt"], attributes["llm.tokens.completion"]) == (12, 3)
    provider_.shutdown()

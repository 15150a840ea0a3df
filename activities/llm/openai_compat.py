"""The OpenAI-compatible provider: the `openai` SDK against any base URL.

OpenAI, OpenRouter, Ollama, vLLM and LiteLLM all speak the chat-completions
protocol. The client never retries (`max_retries=0`): a failure becomes a typed
tool error and Temporal's retry policy decides, honouring `Retry-After`.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import openai

from activities.errors import NonRetryableToolError, RetryableToolError, ToolUnavailable
from activities.llm.base import Completion, CompletionRequest, LLMProvider, Message, Usage
from activities.llm.config import LLMConfig
from foundation.telemetry.tracing import outgoing_call, record_token_counts

MAX_RETRY_AFTER_SECONDS = 300.0
_RETRYABLE_STATUS = frozenset({408, 409, 429})


class OpenAICompatibleProvider(LLMProvider):
    """One `AsyncOpenAI` client (one connection pool) per endpoint and API key."""

    name = "openai"

    def __init__(self, config: LLMConfig, api_key: str | None) -> None:
        self._config = config
        self._client = openai.AsyncOpenAI(
            api_key=api_key or "unused",  # servers without auth ignore it; the SDK wants one
            base_url=config.base_url,
            max_retries=0,
            timeout=openai.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
        )
        self._closed = False

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    async def _complete(
        self, messages: Sequence[Message], request: CompletionRequest
    ) -> Completion:
        tier = request.tier
        tier_config = self._config.tier(tier)
        payload = [m.model_dump() for m in messages]
        extra: dict[str, Any] = {}
        json_schema = request.json_schema
        if json_schema is not None:
            mode = self._config.structured_output
            if mode == "json_schema":
                name = request.schema_name
                extra["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": json_schema, "strict": False},
                }
            else:
                if mode == "json_object":
                    extra["response_format"] = {"type": "json_object"}
                payload.append(
                    {
                        "role": "system",
                        "content": "Answer with one JSON object that fits this JSON Schema, "
                        "and nothing else:\n" + json.dumps(json_schema),
                    }
                )
        limit = request.max_tokens or tier_config.max_tokens
        if limit is not None:
            extra["max_tokens"] = limit
        if tier_config.temperature is not None:
            extra["temperature"] = tier_config.temperature
        started = time.perf_counter()
        # A child span of the tool's activity span (tool, tenant, token counts); the
        # HTTP request the SDK makes is its child when httpx is instrumented.
        with outgoing_call(
            "llm.chat", **{"llm.provider": self.name, "llm.model": tier_config.model}
        ) as span:
            try:
                response = await self._client.chat.completions.create(
                    model=tier_config.model,
                    messages=payload,  # type: ignore[arg-type]
                    **extra,
                )
            except openai.APIError as exc:
                raise map_error(exc, self._config.timeout_seconds) from exc
            if response.usage is not None:
                record_token_counts(
                    {
                        "prompt": response.usage.prompt_tokens,
                        "completion": response.usage.completion_tokens,
                    },
                    span,
                )
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        if not response.choices:
            raise NonRetryableToolError("the model endpoint answered without any choice")
        choice = response.choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            raise NonRetryableToolError(f"the model refused: {refusal}")
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        return Completion(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason,
            usage=Usage(
                provider=self.name,
                model=response.model or tier_config.model,
                tier=tier,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=usage.total_tokens if usage else prompt_tokens + completion_tokens,
                cost_usd=tier_config.cost(prompt_tokens, completion_tokens),
                latency_ms=latency_ms,
            ),
        )

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._client.close()


def map_error(exc: openai.APIError, timeout_seconds: float) -> Exception:
    """A typed tool error for an SDK error: 408/409/429/5xx, timeouts and connection
    failures are retryable (with the server's Retry-After); other 4xx are not."""
    if isinstance(exc, openai.APITimeoutError):
        return ToolUnavailable(f"the model endpoint did not answer within {timeout_seconds}s")
    if isinstance(exc, openai.APIConnectionError):
        return ToolUnavailable(f"cannot reach the model endpoint: {exc.message}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = _detail(exc)
        message = f"the model endpoint answered {status}: {detail}"
        details = {"status": status}
        if status in _RETRYABLE_STATUS or status >= 500:
            return RetryableToolError(
                message, details=details, retry_after_seconds=retry_after(exc.response.headers)
            )
        if status in (401, 403):
            message += " (check the API key secret configured as llm.api_key_ref)"
        return NonRetryableToolError(message, details=details)
    return NonRetryableToolError(f"unexpected answer from the model endpoint: {exc.message}")


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and "message" in error:
            return str(error["message"])[:300]
        return json.dumps(body)[:300]
    return str(exc.message)[:300]


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date), capped."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return _cap(float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return _cap(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return _cap((when - datetime.now(UTC)).total_seconds())


def _cap(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)

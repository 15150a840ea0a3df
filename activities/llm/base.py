"""The provider interface every language model implements, and its data types."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from activities.errors import NonRetryableToolError

Tier = Literal["base", "complex"]
"""Elysia's two model tiers: `base` for quick choices, `complex` for writing and reasoning."""

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat message."""

    role: Role
    content: str


class Usage(BaseModel):
    """Token usage and cost of one model call (recorded in tool results)."""

    provider: str
    model: str
    tier: Tier
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float | None = Field(
        default=None, description="None when no price is configured for the model."
    )
    latency_ms: float = 0.0


class Completion(BaseModel):
    """What a model answered."""

    text: str
    usage: Usage
    finish_reason: str | None = None


class InvalidModelOutput(NonRetryableToolError):
    """The model kept answering with output that does not fit the requested schema."""


@dataclass(frozen=True)
class CompletionRequest:
    """The options of one `LLMProvider.complete` call, as one value for the providers."""

    tier: Tier = "base"
    json_schema: dict[str, Any] | None = None
    schema_name: str = "answer"
    max_tokens: int | None = None


class LLMProvider(ABC):
    """A chat model behind one interface (OpenAI-compatible HTTP, or scripted for tests).

    Providers implement `_complete` (one call, its options as a `CompletionRequest`)
    and `close`; the public keyword signature lives here once.
    """

    name: str

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        tier: Tier = "base",
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "answer",
        max_tokens: int | None = None,
    ) -> Completion:
        """One completion. With `json_schema`, ask for JSON that fits it (validate anyway).

        Raises `RetryableToolError`/`ToolUnavailable` (with `retry_after_seconds` when
        the server said so) for failures a later attempt may fix, `NonRetryableToolError`
        otherwise. Never retries by itself: Temporal owns retries.
        """
        request = CompletionRequest(tier, json_schema, schema_name, max_tokens)
        return await self._complete(messages, request)

    @abstractmethod
    async def _complete(
        self, messages: Sequence[Message], request: CompletionRequest
    ) -> Completion:
        """The provider's own call (see `complete`)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections; idempotent."""


def total_usage(calls: Sequence[Usage]) -> dict[str, Any]:
    """A JSON summary of several calls: per-call records plus token and cost totals."""
    known = [c.cost_usd for c in calls if c.cost_usd is not None]
    return {
        "calls": [c.model_dump(mode="json") for c in calls],
        "prompt_tokens": sum(c.prompt_tokens for c in calls),
        "completion_tokens": sum(c.completion_tokens for c in calls),
        "total_tokens": sum(c.total_tokens for c in calls),
        "cost_usd": round(sum(known), 8) if len(known) == len(calls) else None,
    }

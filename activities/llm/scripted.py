"""A deterministic scripted model (like Elysia's dummy adapter) for tests and offline demos.

Each rule names text fragments that must all appear in the conversation; the first
rule that matches gives the reply. Stateless: the same conversation always gets the
same answer, whichever worker or attempt runs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from activities.errors import NonRetryableToolError, RetryableToolError
from activities.llm.base import Completion, CompletionRequest, LLMProvider, Message, Tier, Usage


class ScriptRule(BaseModel):
    """`contains` (all, case-insensitive) -> `reply` (text, or data replied as JSON)."""

    model_config = ConfigDict(extra="forbid")

    contains: list[str] = Field(default_factory=list)
    tier: Tier | None = Field(default=None, description="Only for calls on this tier.")
    reply: Any = None
    fail: str | None = Field(
        default=None, description="Raise instead of replying: 'retryable' or 'fatal'."
    )


Responder = Callable[[Sequence[Message], Tier], Any]


def _words(text: str) -> int:
    return len(text.split())


class ScriptedModel(LLMProvider):
    """An `LLMProvider` answering from rules (or a function) instead of a network model."""

    name = "scripted"

    def __init__(
        self,
        rules: Sequence[ScriptRule | dict[str, Any]] = (),
        *,
        responder: Responder | None = None,
        model: str = "scripted-1",
    ) -> None:
        self._rules = [ScriptRule.model_validate(r) for r in rules]
        self._responder = responder
        self._model = model
        self.calls: list[list[Message]] = []

    async def _complete(
        self, messages: Sequence[Message], request: CompletionRequest
    ) -> Completion:
        tier = request.tier
        self.calls.append(list(messages))
        reply = self._reply(messages, tier)
        text = reply if isinstance(reply, str) else json.dumps(reply)
        prompt_tokens = sum(_words(m.content) for m in messages)
        completion_tokens = _words(text)
        return Completion(
            text=text,
            finish_reason="stop",
            usage=Usage(
                provider=self.name,
                model=self._model,
                tier=tier,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
                cost_usd=0.0,
            ),
        )

    def _reply(self, messages: Sequence[Message], tier: Tier) -> Any:
        if self._responder is not None:
            return self._responder(messages, tier)
        transcript = "\n".join(m.content for m in messages).lower()
        for rule in self._rules:
            if rule.tier not in (None, tier):
                continue
            if all(fragment.lower() in transcript for fragment in rule.contains):
                if rule.fail == "retryable":
                    raise RetryableToolError("scripted model: scripted transient failure")
                if rule.fail is not None:
                    raise NonRetryableToolError("scripted model: scripted failure")
                return rule.reply
        raise NonRetryableToolError(
            "scripted model: no rule matches this conversation "
            f"(last message starts {messages[-1].content[:120]!r})"
        )

    async def close(self) -> None:
        return None

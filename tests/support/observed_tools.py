"""Tools for observability tests: one reports LLM usage, one logs through its context."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from activities.sdk import ToolContext, tool


class FakeLLMInput(BaseModel):
    prompt: str
    model: str = "scripted-small"


class FakeLLMOutput(BaseModel):
    text: str
    usage: dict[str, Any] = Field(default_factory=dict)


@tool(name="fake_llm", version="1.0.0")
async def fake_llm(args: FakeLLMInput, ctx: ToolContext) -> FakeLLMOutput:
    """Answer like an LLM tool does: text plus per-call usage (tokens and cost)."""
    calls = [
        {"model": args.model, "prompt_tokens": 100, "completion_tokens": 20, "cost_usd": 0.002},
        {"model": "scripted-large", "prompt_tokens": 50, "completion_tokens": 5, "cost_usd": 0.01},
    ]
    return FakeLLMOutput(text=args.prompt.upper(), usage={"calls": calls, "total_tokens": 175})


class ChattyInput(BaseModel):
    message: str


class ChattyOutput(BaseModel):
    logged: bool = True


@tool(name="chatty", version="1.0.0")
async def chatty(args: ChattyInput, ctx: ToolContext) -> ChattyOutput:
    """Log through the tool context (and a secret it must never show)."""
    ctx.logger.info("tool says %s", args.message, api_key="tfk_never_in_logs_123456")
    return ChattyOutput()


OBSERVED_TOOLS = (fake_llm, chatty)

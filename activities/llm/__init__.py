"""The LLM layer: one provider interface, an OpenAI-compatible client and a scripted model.

The OpenAI-compatible provider (`activities.llm.openai_compat`) is imported only when
a tool is configured to use it, so loading the tool registry never loads the SDK.

Tools import from here: `llm_config(ctx.config)` reads the tool's `llm` settings,
`ProviderPool.get(config, ctx)` gives the provider for the calling tenant, and
`complete_structured` asks for JSON validated against a pydantic model.
"""

from activities.llm.base import (
    Completion,
    InvalidModelOutput,
    LLMProvider,
    Message,
    Tier,
    Usage,
    total_usage,
)
from activities.llm.config import LLMConfig, TierConfig, llm_config
from activities.llm.pool import ProviderPool
from activities.llm.scripted import ScriptedModel, ScriptRule
from activities.llm.structured import Structured, complete_structured, parse_json

__all__ = [
    "Completion",
    "InvalidModelOutput",
    "LLMConfig",
    "LLMProvider",
    "Message",
    "ProviderPool",
    "ScriptRule",
    "ScriptedModel",
    "Structured",
    "Tier",
    "TierConfig",
    "Usage",
    "complete_structured",
    "llm_config",
    "parse_json",
    "total_usage",
]

"""LLM settings as they appear in a tool's worker configuration (`config["llm"]`).

Example (`TREEFLOW_WORKER_TOOL_CONFIG`)::

    {"defaults": {"llm": {
        "provider": "openai",
        "base_url": "https://openrouter.ai/api/v1",
        "api_key_ref": "openrouter_key",
        "tiers": {"base": {"model": "gpt-4o-mini", "input_cost_per_million": 0.15,
                           "output_cost_per_million": 0.6},
                  "complex": {"model": "gpt-4o"}}}}}

`api_key_ref` names a tenant secret: the key is fetched by reference at call time
(`ctx.secret`), so every tenant can bring its own key and none enters a history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from activities.errors import NonRetryableToolError, invalid_config
from activities.llm.base import Tier
from activities.llm.scripted import ScriptRule


class TierConfig(BaseModel):
    """The model behind one tier, and its price (per million tokens) for cost accounting."""

    model_config = ConfigDict(extra="forbid")

    model: str
    input_cost_per_million: float | None = Field(default=None, ge=0)
    output_cost_per_million: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Cost in USD of one call, or None without configured prices."""
        if self.input_cost_per_million is None or self.output_cost_per_million is None:
            return None
        return round(
            (
                prompt_tokens * self.input_cost_per_million
                + completion_tokens * self.output_cost_per_million
            )
            / 1_000_000,
            8,
        )


def _default_tiers() -> dict[Tier, TierConfig]:
    return {"base": TierConfig(model="gpt-4o-mini"), "complex": TierConfig(model="gpt-4o")}


class LLMConfig(BaseModel):
    """Which model a tool uses. `provider: none` (the default) means no model is configured."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["none", "openai", "scripted"] = "none"
    base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint; None = OpenAI's own."
    )
    api_key_ref: str | None = Field(
        default="openai_api_key",
        description="Name of the tenant secret holding the API key; None for servers "
        "without authentication (a local Ollama or vLLM).",
    )
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    structured_output: Literal["json_schema", "json_object", "prompt"] = Field(
        default="json_schema",
        description="How JSON is requested: OpenAI structured outputs, JSON mode, or only "
        "by instruction (for servers that support neither). Answers are always validated.",
    )
    tiers: dict[Tier, TierConfig] = Field(default_factory=_default_tiers)
    script: list[ScriptRule] = Field(
        default_factory=list, description="Rules of the scripted model (provider: scripted)."
    )

    @property
    def configured(self) -> bool:
        return self.provider != "none"

    def tier(self, tier: Tier) -> TierConfig:
        """The tier's model; `complex` falls back to `base` and vice versa."""
        chosen = self.tiers.get(tier) or self.tiers.get("base") or self.tiers.get("complex")
        if chosen is None:
            raise NonRetryableToolError("llm config: no model tiers are configured")
        return chosen


def llm_config(config: Mapping[str, Any]) -> LLMConfig:
    """The `llm` section of a tool's config; invalid settings fail clearly, naming the field."""
    raw = config.get("llm") or {}
    try:
        return LLMConfig.model_validate(raw)
    except ValidationError as exc:
        raise invalid_config("llm", exc) from None

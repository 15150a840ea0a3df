"""`llm_decision@1.0.0`: the first, placeholder decision agent (scripted or keyword routing).

Superseded by `llm_decision@2` (`decision_agent.py`). Kept registered, unchanged, so
runs compiled against 1.0.0 keep their activity; deprecated so compilers warn.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from activities.builtin.router import route
from activities.contracts import DecisionInput, DecisionOutput
from activities.errors import NonRetryableToolError
from activities.sdk import ToolContext, tool


@tool(
    name="llm_decision",
    version="1.0.0",
    kind="decision",
    timeout=timedelta(seconds=120),
    deprecated="use llm_decision@^2 (a real model through the llm config)",
)
class LLMDecision:
    """Ask a language model which branch to take next, given the goal and what happened."""

    def __init__(self) -> None:
        self._script: list[dict[str, Any]] = []

    async def startup(self, config: Mapping[str, Any]) -> None:
        self._script = list(config.get("script", []))

    async def run(self, args: DecisionInput, ctx: ToolContext) -> DecisionOutput:
        if self._script:
            return self._scripted(args, ctx)
        fallback = route(args)
        fallback.reasoning = f"no language model configured; keyword routing: {fallback.reasoning}"
        return fallback

    def _scripted(self, args: DecisionInput, ctx: ToolContext) -> DecisionOutput:
        """Deterministic answers for tests: the n-th call of a run gets the n-th entry."""
        index = len(args.tasks_completed) % len(self._script)
        answer = DecisionOutput.model_validate(self._script[index])
        valid = {option.id for option in args.options}
        if answer.choice is not None and answer.choice not in valid:
            raise NonRetryableToolError(
                f"model chose '{answer.choice}', which is not one of {sorted(valid)}",
                details={"choice": answer.choice},
            )
        return answer

"""The hand-written baseline: what a Temporal user would write for the same chain.

A plain workflow calling a plain activity with pydantic models (the SDK's pydantic
data converter), kept in a lean module so the sandbox re-imports little per run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.chain import STEP_ACTIVITY, StepInput, StepOutput


@workflow.defn(name="HandWrittenChain")
class HandWrittenChain:
    @workflow.run
    async def run(self, steps: int) -> dict[str, Any]:
        value = 0
        for _ in range(steps):
            out = await workflow.execute_activity(
                STEP_ACTIVITY,
                StepInput(value=value),
                result_type=StepOutput,
                start_to_close_timeout=timedelta(seconds=60),
            )
            value = out.value
            if value < 0:  # the rule the tree evaluates between steps
                break
        return {"value": value}

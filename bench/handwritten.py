"""The hand-written baseline: what a Temporal user would write for the same chain.

Kept in its own lean module, like Treeflow's interpreter, so the workflow sandbox
re-imports the same amount of code for both.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import ToolCall


@workflow.defn(name="HandWrittenChain")
class HandWrittenChain:
    @workflow.run
    async def run(self, steps: int) -> dict[str, Any]:
        value = 0
        for _ in range(steps):
            out = await workflow.execute_activity(
                "bench_step@1.0.0",
                ToolCall(args={"value": value}),
                result_type=dict,
                start_to_close_timeout=timedelta(seconds=60),
            )
            value = out["value"]
            if value < 0:  # the rule the tree evaluates between steps
                break
        return {"value": value}

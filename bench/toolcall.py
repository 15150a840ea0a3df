"""The workflow used by bench/tool_overhead.py: call one tool activity `calls` times.

A lean module of its own (like handwritten.py) so the sandbox re-imports little.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import ToolCall


@workflow.defn(name="ToolCallLoop")
class ToolCallLoop:
    @workflow.run
    async def run(self, activity: str, args: dict[str, Any], calls: int) -> int:
        size = 0
        for _ in range(calls):
            out = await workflow.execute_activity(
                activity,
                ToolCall(args=args, tenant_id="bench"),
                result_type=dict,
                start_to_close_timeout=timedelta(seconds=60),
            )
            size = len(out)
        return size

"""The benchmark chain: the `bench_step` tool, its tree, and its hand-written activity.

One module both sides import, so Treeflow's tree and the hand-written workflow run the
same unit of work (add one) with the same pydantic argument and result models.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio import activity

from activities.sdk import ToolContext, tool

STEP_ACTIVITY = "bench_step@1.0.0"


class StepInput(BaseModel):
    value: int


class StepOutput(BaseModel):
    value: int


@tool(name="bench_step", version="1.0.0")
async def bench_step(args: StepInput, ctx: ToolContext) -> StepOutput:
    """One unit of work: add one."""
    return StepOutput(value=args.value + 1)


@activity.defn(name=STEP_ACTIVITY)
async def handwritten_step(args: StepInput) -> StepOutput:
    """The same unit of work as a plain Temporal activity."""
    return StepOutput(value=args.value + 1)


def chain_tree(steps: int) -> dict[str, Any]:
    """`steps` tool nodes in a row, a rule decision between each two (never taken)."""
    nodes: dict[str, Any] = {}
    for index in range(steps):
        previous = f"{{{{ results.s{index - 1}.value }}}}" if index else 0
        last = index == steps - 1
        nodes[f"s{index}"] = {
            "kind": "tool",
            "tool": "bench_step@^1",
            "args": {"value": previous},
            "next": "done" if last else f"check{index}",
        }
        if not last:
            nodes[f"check{index}"] = {
                "kind": "decision",
                "strategy": "rules",
                "branches": [
                    {"to": "done", "when": f"results.s{index}.value < 0"},
                    {"to": f"s{index + 1}"},
                ],
            }
    nodes["done"] = {"kind": "end", "output": {"value": f"{{{{ results.s{steps - 1}.value }}}}"}}
    return {"name": "bench-chain", "start": "s0", "nodes": nodes}

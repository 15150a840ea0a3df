"""Which branches a decision activity may offer: each branch's tool is asked first.

A branch without a description of its own (nor one on its target node) is described
by its tool's description, which tool authors write for the agent.
"""

from __future__ import annotations

from activities.contracts import DecisionInput, DecisionOption
from activities.sdk import ToolContext


async def available_options(
    args: DecisionInput, ctx: ToolContext
) -> tuple[list[DecisionOption], dict[str, str], list[str]]:
    """Options whose tools say they can run now, their hints, and why others were dropped."""
    kept: list[DecisionOption] = []
    hints: dict[str, str] = {}
    dropped: list[str] = []
    for option in args.options:
        if option.tool and ctx.tools is not None and not option.description:
            spec = ctx.tools.spec(option.tool)
            if spec is not None and spec.description:
                option = option.model_copy(update={"description": spec.description.split("\n")[0]})
        if option.tool and ctx.tools is not None:
            verdict = await ctx.tools.availability(option.tool, option.args, ctx)
            if not verdict.available:
                dropped.append(f"{option.id} ({verdict.reason or 'unavailable'})")
                continue
            if verdict.hints:
                hints[option.id] = verdict.hints
        kept.append(option)
    return kept, hints, dropped

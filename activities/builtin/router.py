"""`router`: an offline keyword router that picks a branch by BM25 relevance."""

from __future__ import annotations

from datetime import timedelta

from activities.builtin.textstats import bm25_scores
from activities.contracts import DecisionInput, DecisionOutput
from activities.sdk import ToolContext, tool


@tool(name="router", version="1.0.0", kind="decision", timeout=timedelta(seconds=10))
async def router(args: DecisionInput, ctx: ToolContext) -> DecisionOutput:
    """Route the user's prompt to the branch whose description and keywords match it best."""
    return route(args)


def route(args: DecisionInput) -> DecisionOutput:
    """Score every option with BM25; ties and no-match fall back to the default branch."""
    documents = [
        " ".join([option.id.replace("_", " "), option.description, *option.keywords])
        for option in args.options
    ]
    scores = bm25_scores(args.prompt, documents)
    ranked = sorted(zip(args.options, scores, strict=True), key=lambda pair: pair[1], reverse=True)
    by_id = {option.id: round(score, 4) for option, score in zip(args.options, scores, strict=True)}
    if not ranked or ranked[0][1] <= 0.0 or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        choice = args.default or (ranked[0][0].id if ranked and ranked[0][1] > 0 else None)
        if choice is None and args.options:
            choice = args.options[0].id
        return DecisionOutput(
            choice=choice,
            reasoning="no branch matched the prompt clearly; took the default",
            scores=by_id,
        )
    best = ranked[0][0]
    return DecisionOutput(
        choice=best.id,
        reasoning=f"prompt matches '{best.id}' best (bm25 {ranked[0][1]:.2f})",
        scores=by_id,
    )

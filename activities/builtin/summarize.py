"""`summarize`: an extractive summary that needs no LLM."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, Field

from activities.builtin.textstats import sentences, tokens
from activities.sdk import ToolContext, tool


class SummarizeInput(BaseModel):
    text: str | list[str] = Field(description="Text, or a list of passages, to summarise.")
    max_sentences: int = Field(default=3, ge=1, le=20)
    query: str | None = Field(
        default=None, description="Favour sentences that answer this question."
    )


class SummarizeOutput(BaseModel):
    summary: str
    sentences: list[str]
    method: Literal["extractive"] = "extractive"
    source_sentences: int


@tool(name="summarize", version="1.0.0", timeout=timedelta(seconds=30))
async def summarize(args: SummarizeInput, ctx: ToolContext) -> SummarizeOutput:
    """Summarise text by picking its most representative sentences (no LLM needed)."""
    passages = [args.text] if isinstance(args.text, str) else args.text
    candidates = [s for passage in passages for s in sentences(passage)]
    chosen = rank_sentences(candidates, args.max_sentences, args.query)
    return SummarizeOutput(
        summary=" ".join(chosen), sentences=chosen, source_sentences=len(candidates)
    )


def rank_sentences(candidates: list[str], limit: int, query: str | None = None) -> list[str]:
    """The `limit` best sentences, in their original order.

    A sentence scores by the document frequency of its content words (normalised
    by length), plus a strong bonus for each word shared with the query.
    """
    if not candidates:
        return []
    frequency = Counter(t for s in candidates for t in set(tokens(s)))
    query_terms = set(tokens(query or ""))
    scored: list[tuple[float, int]] = []
    for index, sentence in enumerate(candidates):
        words = tokens(sentence)
        if not words:
            continue
        centrality = sum(frequency[w] for w in set(words)) / (len(words) ** 0.5)
        relevance = 3.0 * len(query_terms.intersection(words))
        scored.append((centrality + relevance, index))
    best = sorted(scored, key=lambda item: (-item[0], item[1]))[:limit]
    return [candidates[index] for _, index in sorted(best, key=lambda item: item[1])]

"""Weighted reciprocal-rank fusion for hybrid search.

``score(d) = alpha / (k + rank_vector(d)) + (1 - alpha) / (k + rank_keyword(d))``,
ranks 1-based, a list the document is missing from contributing 0.

``RRF_K = 60`` is the constant of Cormack, Clarke and Buettcher (SIGIR 2009) and the
one Weaviate's ``rankedFusion`` uses, so both backends fuse alike: a large k flattens
the head of each list so agreement between the lists matters more than one top rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RRF_K = 60


@dataclass(frozen=True, slots=True)
class Fused:
    """A fused document id with its score and its 1-based rank in each list."""

    id: str
    score: float
    vector_rank: int | None
    keyword_rank: int | None


def reciprocal_rank_fusion(
    vector_ids: Sequence[str], keyword_ids: Sequence[str], alpha: float, k: int = RRF_K
) -> list[Fused]:
    """Fuse two rankings; best first, ties broken by vector rank then keyword rank."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be within [0, 1]")
    vrank = {d: i + 1 for i, d in enumerate(dict.fromkeys(vector_ids))}
    krank = {d: i + 1 for i, d in enumerate(dict.fromkeys(keyword_ids))}
    fused: list[Fused] = []
    for doc in dict.fromkeys([*vrank, *krank]):
        v, kw = vrank.get(doc), krank.get(doc)
        score = (alpha / (k + v) if v else 0.0) + ((1.0 - alpha) / (k + kw) if kw else 0.0)
        fused.append(Fused(doc, score, v, kw))
    big = len(vrank) + len(krank) + 1
    fused.sort(key=lambda f: (-f.score, f.vector_rank or big, f.keyword_rank or big))
    if alpha in (0.0, 1.0):
        # A pure mode keeps only documents its own list found.
        fused = [f for f in fused if (f.vector_rank if alpha == 1.0 else f.keyword_rank)]
    return fused

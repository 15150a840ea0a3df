"""Small text utilities shared by extractive tools and the offline router."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from activities.text import STOPWORDS

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def tokens(text: str) -> list[str]:
    """Lowercase content words, stopwords removed, with a light plural stemming."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def sentences(text: str) -> list[str]:
    """Split prose into sentences (good enough for extractive summaries)."""
    parts: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n(?=[-*•] )", text):
        parts.extend(s.strip() for s in _SENTENCE_END.split(paragraph.strip()) if s.strip())
    return parts


def bm25_scores(
    query: str, documents: Sequence[str], *, k1: float = 1.2, b: float = 0.75
) -> list[float]:
    """Okapi BM25 score of `query` against each document."""
    docs = [tokens(d) for d in documents]
    if not docs:
        return []
    avg_len = sum(len(d) for d in docs) / len(docs) or 1.0
    frequencies = [Counter(d) for d in docs]
    document_frequency: Counter[str] = Counter()
    for doc in docs:
        document_frequency.update(set(doc))
    scores = []
    query_terms = tokens(query)
    for doc, tf in zip(docs, frequencies, strict=True):
        score = 0.0
        for term in query_terms:
            if term not in tf:
                continue
            df = document_frequency[term]
            idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
            norm = tf[term] + k1 * (1 - b + b * len(doc) / avg_len)
            score += idf * tf[term] * (k1 + 1) / norm
        scores.append(score)
    return scores

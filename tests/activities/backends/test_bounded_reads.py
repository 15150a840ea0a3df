"""Reads that must not grow with the collection: sampling (and so preprocessing), bulk loads."""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import activities.backends.embedded as embedded
from activities.backends.embedded import EmbeddedBackend
from activities.backends.embeddings import HashingEmbedder, tokens
from activities.backends.loader import to_records
from activities.builtin.preprocess import PreprocessCollection, PreprocessInput
from activities.data import SUPPORT_TICKETS
from activities.data.tickets import generate_tickets
from activities.sdk import ToolContext
from bench.retrieval_ops import load_tickets, ticket_records

ROWS = 2_000
SAMPLE = 40


class ReadCounter:
    """Wraps the store's one read path and records the shape of every result."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.results: list[tuple[int, tuple[str, ...]]] = []
        original = embedded._run_arrow

        async def counted(query: Any) -> pa.Table:
            table = await original(query)
            self.results.append((table.num_rows, tuple(table.column_names)))
            return table

        monkeypatch.setattr(embedded, "_run_arrow", counted)

    def rows_with(self, column: str) -> list[int]:
        """Row counts of the results that carried ``column``."""
        return [rows for rows, columns in self.results if column in columns]


async def _tickets(path: Path) -> EmbeddedBackend:
    store = EmbeddedBackend(path)
    await load_tickets(store, ticket_records(ROWS), batch_size=500)
    return store


async def test_sample_reads_only_ids_beyond_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await _tickets(tmp_path)
    everything = sorted(r.id for r in await store.sample("Tickets", ROWS))
    assert len(everything) == ROWS
    counter = ReadCounter(monkeypatch)
    sample = await store.sample("Tickets", SAMPLE)
    assert [r.id for r in sample] == everything[:SAMPLE]  # the smallest ids, as before
    assert counter.rows_with("body") == [SAMPLE]  # full records: the sample, read once
    assert max(rows for rows, _ in counter.results) == SAMPLE  # the id scan kept top-n only
    await store.close()


async def test_preprocess_reads_at_most_the_sample_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await _tickets(tmp_path)
    await store.close()
    config = {"retrieval": {"kind": "embedded", "path": str(tmp_path)}}
    tool = PreprocessCollection()
    await tool.startup(config)
    counter = ReadCounter(monkeypatch)
    out = await tool.run(
        PreprocessInput(collection="Tickets", sample_size=SAMPLE, use_llm=False),
        ToolContext.for_testing(PreprocessCollection, config=config),
    )
    await tool.shutdown()
    assert out.profile.sampled == SAMPLE
    assert out.profile.count == ROWS
    assert sum(counter.rows_with("body")) == SAMPLE
    assert all(rows <= SAMPLE for rows, _ in counter.results)


async def test_sample_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "SAMPLE_MAX", 25)
    store = await _tickets(tmp_path)
    assert len(await store.sample("Tickets", 1_000)) == 25
    await store.close()


async def test_bulk_load_maintains_indexes_once_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = EmbeddedBackend._maintain_indexes

    async def counted(self: EmbeddedBackend, table: Any) -> None:
        calls.append("maintain")
        await original(self, table)

    monkeypatch.setattr(EmbeddedBackend, "_maintain_indexes", counted)
    store = await _tickets(tmp_path)  # four batches
    assert calls == []  # deferred: build_indexes folded every row in once
    table = await store._table(await store._meta("Tickets"), None)
    fts = next(i for i in await table.list_indices() if "_fts" in i.columns)
    stats = await table.index_stats(fts.name)
    assert stats is not None
    assert stats.num_unindexed_rows == 0
    await store.upsert("Tickets", to_records(generate_tickets(3), SUPPORT_TICKETS.properties))
    assert calls == ["maintain"]  # ordinary writes maintain as before
    await store.close()


def _reference_vector(text: str, dimensions: int = 384, bigram_weight: float = 0.5) -> list[float]:
    """The hashing embedder as first written (a plain loop), to pin its vectors."""
    vec = [0.0] * dimensions
    words = tokens(text)
    features = [(w, 1.0) for w in words]
    features += [(f"{a} {b}", bigram_weight) for a, b in itertools.pairwise(words)]
    for feature, weight in features:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "little") % dimensions
        vec[bucket] += (1.0 if digest[4] & 1 else -1.0) * weight
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec] if norm else vec


@pytest.mark.parametrize(("dimensions", "bigram_weight"), [(384, 0.5), (64, 0.3)])
def test_hashing_embedder_vectors_are_bit_identical_to_the_plain_loop(
    dimensions: int, bigram_weight: float
) -> None:
    texts = [t["title"] + "\n" + t["body"] for t in generate_tickets(200)]
    texts += ["", "the of and", "Login LOGIN login failed failing"]
    embedder = HashingEmbedder(dimensions, bigram_weight)
    for text in texts:
        assert embedder.embed_one(text) == _reference_vector(text, dimensions, bigram_weight)

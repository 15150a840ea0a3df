"""Embedded-store specifics: safe SQL, persistence, embedder identity, chunking."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from activities.backends import (
    EmbedderMismatch,
    InvalidFilter,
    NewRecord,
    Record,
    SearchRequest,
    UnknownProperty,
    all_of,
    any_of,
    where,
)
from activities.backends.base import CollectionSchema
from activities.backends.chunking import chunk_records, chunk_text, ensure_chunks
from activities.backends.embedded import (
    EmbeddedBackend,
    filter_sql,
    like_pattern,
    sql_identifier,
    sql_literal,
    where_sql,
)
from activities.backends.embeddings import HashingEmbedder
from tests.activities.backends.backend_data import ITEM_PROPERTIES, ITEMS

SCHEMA = CollectionSchema(name="Items", properties=ITEM_PROPERTIES, count=None)


@pytest.mark.parametrize(
    ("value", "sql"),
    [
        ("O'Neil", "'O''Neil'"),
        ("x' OR '1'='1", "'x'' OR ''1''=''1'"),
        (True, "true"),
        (3, "3"),
        (2.5, "2.5"),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "TIMESTAMP '2024-01-02 03:04:05.000000'"),
    ],
)
def test_sql_literals_are_escaped(value: object, sql: str) -> None:
    assert sql_literal(value) == sql


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "a\x00b", object()])
def test_unrenderable_literals_are_refused(bad: object) -> None:
    with pytest.raises(InvalidFilter):
        sql_literal(bad)


def test_identifiers_are_validated_and_quoted() -> None:
    assert sql_identifier("hours") == "`hours`"
    with pytest.raises(InvalidFilter):
        sql_identifier("hours` = 1 OR `x")


def test_like_patterns_translate_wildcards_and_escape_sql_ones() -> None:
    assert like_pattern("ab*c?") == "ab%c_"
    assert like_pattern("100%_x\\") == "100\\%\\_x\\\\"


def test_filter_sql_for_every_operator_and_nesting() -> None:
    flt = all_of(
        where("product", "eq", "O'Neil"),
        any_of(where("hours", "gte", "2.5"), where("priority", "in", ["low", "high"])),
        where("tags", "contains_any", ["a"]),
        where("body", "contains_any", ["re.fund"]),
        where("title", "like", "Log*"),
        where("created", "lt", "2024-02-01"),
        where("urgent", "ne", True),
    )
    assert where_sql(SCHEMA, flt) == (
        "((`product` = 'O''Neil') AND ((`hours` >= 2.5) OR (`priority` IN ('low', 'high')))"
        " AND array_has_any(`tags`, make_array('a'))"
        " AND regexp_like(lower(`body`), '\\b(re\\.fund)\\b')"
        " AND (lower(`title`) LIKE 'log%' ESCAPE '\\')"
        " AND (`created` < TIMESTAMP '2024-02-01 00:00:00.000000')"
        " AND (`urgent` != true))"
    )
    assert filter_sql(where("seats", "gt", 3)) == "(`seats` > 3)"


def test_filters_are_checked_against_the_schema_before_sql() -> None:
    with pytest.raises(UnknownProperty):
        where_sql(SCHEMA, where("product`) OR (1=1", "eq", "x"))


async def test_injection_attempts_match_nothing(tmp_path: Path) -> None:
    store = EmbeddedBackend(tmp_path)
    await store.create_collection("Items", ITEM_PROPERTIES)
    await store.upsert("Items", ITEMS)
    hostile = where("product", "eq", "x' OR '1'='1")
    result = await store.search("Items", SearchRequest(mode="filter", filters=hostile))
    assert result.hits == []
    liked = await store.search(
        "Items", SearchRequest(mode="filter", filters=where("title", "like", "%"))
    )
    assert liked.hits == []  # '%' is literal in our patterns
    await store.close()


async def test_data_persists_across_instances(tmp_path: Path) -> None:
    first = EmbeddedBackend(tmp_path)
    await first.create_collection("Items", ITEM_PROPERTIES)
    await first.upsert("Items", ITEMS)
    await first.close()
    second = EmbeddedBackend(tmp_path)
    assert await second.list_collections() == ["Items"]
    assert (await second.describe("Items")).count == 10
    hits = await second.search("Items", SearchRequest(mode="keyword", query="refund"))
    assert len(hits.hits) == 1
    await second.close()


async def test_vectors_from_another_embedder_are_refused(tmp_path: Path) -> None:
    first = EmbeddedBackend(tmp_path, embedder=HashingEmbedder(384))
    await first.create_collection("Items", ITEM_PROPERTIES)
    await first.upsert("Items", ITEMS[:2])
    await first.close()
    other = EmbeddedBackend(tmp_path, embedder=HashingEmbedder(128))
    with pytest.raises(EmbedderMismatch, match="hashing-v1-384"):
        await other.search("Items", SearchRequest(mode="semantic", query="login"))
    with pytest.raises(EmbedderMismatch):
        await other.upsert("Items", ITEMS[2:3])
    filtered = await other.search("Items", SearchRequest(mode="filter"))
    assert len(filtered.hits) == 2  # filters need no vectors
    await other.close()


async def test_keyword_search_sees_rows_added_after_the_index(tmp_path: Path) -> None:
    store = EmbeddedBackend(tmp_path)
    await store.create_collection("Items", ITEM_PROPERTIES)
    await store.upsert("Items", ITEMS[:5])
    late = NewRecord(key="late", properties={"title": "Zeppelin docking fails"})
    await store.upsert("Items", [late])
    hits = await store.search("Items", SearchRequest(mode="keyword", query="zeppelin"))
    assert [h.properties["title"] for h in hits.hits] == ["Zeppelin docking fails"]
    await store.close()


# --------------------------------------------------------------------------- chunking


def test_chunk_text_respects_size_overlap_and_sentences() -> None:
    sentences = [f"Sentence {i} has exactly six words." for i in range(10)]
    chunks = chunk_text(" ".join(sentences), max_words=20, overlap=6)
    assert all(len(c.split()) <= 20 for c in chunks)
    assert chunks[0].startswith("Sentence 0")
    assert chunks[1].startswith("Sentence 2")  # one sentence of overlap
    assert chunks[-1].endswith("Sentence 9 has exactly six words.")
    long_sentence = " ".join(["word"] * 45)
    assert [len(c.split()) for c in chunk_text(long_sentence, max_words=20, overlap=0)] == [
        20,
        20,
        5,
    ]
    with pytest.raises(ValueError, match="max_words"):
        chunk_text("x", max_words=5, overlap=5)


async def test_ensure_chunks_is_idempotent_and_searchable(tmp_path: Path) -> None:
    store = EmbeddedBackend(tmp_path)
    body = " ".join(f"Paragraph {i} talks about topic {i}." for i in range(40))
    doc = Record(id="6f1d3a52-2a8e-5b7c-9f43-6b1f0d7e2c12", properties={"body": body})
    assert len(chunk_records([doc], "body", max_words=30, overlap=5)) > 3
    target = await ensure_chunks(store, "Docs", [doc], "body", max_words=30, overlap=5)
    count = (await store.describe(target)).count
    await ensure_chunks(store, "Docs", [doc], "body", max_words=30, overlap=5)
    assert target == "DocsChunks"
    assert (await store.describe(target)).count == count
    found = await store.search(
        target,
        SearchRequest(
            mode="keyword", query="topic 37", filters=where("parent_id", "eq", doc.id), limit=1
        ),
    )
    assert "topic 37" in str(found.hits[0].properties["chunk"])
    await store.close()


async def test_opt_in_vector_index_keeps_semantic_search_working(tmp_path: Path) -> None:
    store = EmbeddedBackend(tmp_path)
    await store.create_collection("Items", ITEM_PROPERTIES)
    records = [
        NewRecord(key=f"n{i}", properties={"title": f"Note {i} about topic {i % 7}"})
        for i in range(300)
    ]
    await store.upsert("Items", [*ITEMS, *records])
    await store.create_vector_index("Items")
    hits = await store.search(
        "Items", SearchRequest(mode="semantic", query="password reset email", limit=3)
    )
    assert hits.hits[0].properties["title"] == "Password reset email never arrives"
    await store.close()


async def test_hybrid_page_rows_survive_stale_row_ids(tmp_path: Path) -> None:
    """The hybrid page is taken by row id; ids a write moved fall back to reads by id."""
    store = EmbeddedBackend(tmp_path)
    await store.create_collection("Items", ITEM_PROPERTIES)
    await store.upsert("Items", ITEMS)
    table = await store._table(await store._meta("Items"), None)
    listed = (await table.query().select(["_ref"]).with_row_id().to_arrow()).to_pylist()
    refs = [r["_ref"] for r in listed[:4]]
    right = {r["_ref"]: r["_rowid"] for r in listed[:4]}
    shifted = dict(zip(refs, [r["_rowid"] for r in listed[1:5]], strict=True))  # wrong rows
    columns = ["_ref", "title"]
    expected = await store._rows_by_ref(table, refs, columns)
    assert sorted(expected) == sorted(refs)
    assert await store._rows_by_row_id(table, refs, right, columns) == expected
    assert await store._rows_by_row_id(table, refs, shifted, columns) == expected
    assert await store._rows_by_row_id(table, refs, {}, columns) == expected
    await store.close()

"""`treeflow data load` builds the embedded store's indexes, and they change no answer."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

from activities.backends import (
    AggregateRequest,
    PropertyMetrics,
    SearchHit,
    SearchRequest,
    SortSpec,
    all_of,
    where,
)
from activities.backends.embedded import EmbeddedBackend
from tests.cli.test_cli import treeflow

ROWS = 1_500
LIMIT = 5
QUESTIONS = ["amber river", "granite falcon copper", "meadow lantern", "velvet orbit signal"]
# Syllables make about a thousand words: no two rows share a text, so no two share a
# vector and exact and indexed rankings have no ties to order differently.
SYLLABLES = [a + b for a in "bcdfgklmnprstvzh" for b in ("a", "e", "i", "o")]


def _rows() -> list[dict[str, object]]:
    rng = random.Random(3)
    words = [a + b + c for a in SYLLABLES for b in SYLLABLES[:4] for c in ("n", "r", "l", "s")]
    words += [w for q in QUESTIONS for w in q.split()]
    return [
        {
            "id": f"R-{i:05d}",
            "text": " ".join(rng.choices(words, k=rng.randint(4, 16))),
            "kind": rng.choice(["alpha", "beta", "gamma"]),
            "score": rng.randint(0, 100),
        }
        for i in range(ROWS)
    ]


def _indices(path: Path) -> set[str]:
    async def run() -> set[str]:
        store = EmbeddedBackend(path)
        table = await store._table(await store._meta("Rows"), None)
        found = {c for i in await table.list_indices() for c in i.columns}
        await store.close()
        return found

    return asyncio.run(run())


def _ranked(hits: list[SearchHit]) -> list[tuple[float, str]]:
    """Scores in order, with ids; equal scores may come in either order, and the ids tied
    with the last score are left out (the limit may cut that tie anywhere)."""
    ranked = sorted(((round(h.score or 0.0, 5), h.id) for h in hits), key=lambda t: (-t[0], t[1]))
    last = ranked[-1][0] if ranked else None
    return [(score, ref if score != last else "") for score, ref in ranked]


def _answers(path: Path) -> list[object]:
    async def run() -> list[object]:
        store = EmbeddedBackend(path)
        out: list[object] = []
        for question in QUESTIONS:
            for mode in ("semantic", "keyword", "hybrid"):
                found = await store.search(
                    "Rows",
                    SearchRequest(mode=mode, query=question, limit=LIMIT),
                )
                out.append(_ranked(found.hits))
            filtered = await store.search(
                "Rows",
                SearchRequest(
                    mode="hybrid", query=question, filters=where("kind", "eq", "beta"), limit=LIMIT
                ),
            )
            out.append(_ranked(filtered.hits))
        grouped = await store.aggregate("Rows", AggregateRequest(group_by="kind"))
        out.append([(g.value, g.count) for g in grouped.groups])
        filtered_groups = await store.aggregate(
            "Rows",
            AggregateRequest(
                group_by="kind",
                filters=all_of(where("kind", "in", ["alpha", "gamma"]), where("score", "gte", 50)),
                metrics=[PropertyMetrics(property="score", ops=["mean", "min", "max"])],
            ),
        )
        out.append(filtered_groups.model_dump())
        page = await store.search(
            "Rows",
            SearchRequest(
                mode="filter",
                filters=where("score", "lt", 20),
                sort=SortSpec(property="score", direction="desc"),
                offset=3,
                limit=10,
            ),
        )
        out.append([h.id for h in page.hits])
        out.append([r.id for r in await store.sample("Rows", 7)])
        await store.close()
        return out

    return asyncio.run(run())


def test_data_load_builds_indexes_that_keep_every_answer(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    indexed, plain = tmp_path / "indexed", tmp_path / "plain"
    load = ("data", "load", str(data), "--collection", "rows")
    with_all = treeflow(*load, "--path", str(indexed), "--indexes", "all")
    assert with_all.returncode == 0, with_all.stderr
    assert "indexed _fts, _ref, _vector, kind, score in" in with_all.stdout
    without = treeflow(*load, "--path", str(plain), "--indexes", "none")
    assert without.returncode == 0, without.stderr
    assert "indexed" not in without.stdout

    assert _indices(indexed) == {"_ref", "_fts", "_vector", "kind", "score"}
    assert _indices(plain) == {"_fts"}  # writes keep only the full-text index
    answers = _answers(indexed)
    assert answers == _answers(plain)
    assert all(answers), "every question found something"


def test_default_load_leaves_small_tables_to_exact_vector_search(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows()[:200]))
    store = tmp_path / "store"
    loaded = treeflow("data", "load", str(data), "--collection", "rows", "--path", str(store))
    assert loaded.returncode == 0, loaded.stderr
    assert "indexed _fts, _ref, kind, score in" in loaded.stdout
    assert "_vector" not in _indices(store)  # below VECTOR_INDEX_MIN_ROWS
    bad = treeflow("data", "load", str(data), "-c", "rows", "--path", str(store), "--indexes", "x")
    assert bad.returncode != 0
    assert "auto" in bad.stderr  # the choices are named

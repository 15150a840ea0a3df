"""query, aggregate, preprocess_collection, cited_summarize and visualize on a real
embedded store loaded with the shipped demo tickets."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from activities.backends import BackendClosed
from activities.backends.base import NewRecord, PropertySchema, PropertyType
from activities.backends.chunking import chunk_text
from activities.backends.embedded import EmbeddedBackend
from activities.backends.loader import load_demo, load_records
from activities.builtin.aggregate import Aggregate, AggregateInput
from activities.builtin.cited_summarize import (
    CitedSummarize,
    CitedSummarizeInput,
    Source,
    extractive,
)
from activities.builtin.collection_profile import load_profile
from activities.builtin.preprocess import PreprocessCollection, PreprocessInput
from activities.builtin.query import Query, QueryInput
from activities.builtin.retrieval_pool import BACKENDS, BackendPool, retrieval_config
from activities.builtin.visualize import VisualizeInput, visualize
from activities.data import SUPPORT_TICKETS
from activities.errors import NonRetryableToolError
from activities.sdk import CallInfo, ToolContext

LONG_BODY = (
    " ".join(
        f"Section {i} describes the quarterly backup routine of the archive cluster."
        for i in range(80)
    )
    + " The restore drill failed because the encryption key had expired."
)


def _rows() -> list[dict[str, Any]]:
    with SUPPORT_TICKETS.path().open() as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("retrieval") / "store"


@pytest.fixture(scope="module")
def config(store_path: Path) -> dict[str, Any]:
    return {"retrieval": {"kind": "embedded", "path": str(store_path)}}


@pytest.fixture(scope="module")
async def tools(config: dict[str, Any], store_path: Path) -> AsyncIterator[dict[str, Any]]:
    """Started tool instances sharing the pool, over the demo data (loaded once)."""
    loader = EmbeddedBackend(store_path)
    await load_demo(loader)
    await load_records(
        loader,
        "Manuals",
        [
            NewRecord(key="m1", properties={"title": "Backup manual", "body": LONG_BODY}),
            NewRecord(key="m2", properties={"title": "Short note", "body": "Backups run nightly."}),
        ],
        properties=[
            PropertySchema(name="title", type=PropertyType.TEXT),
            PropertySchema(name="body", type=PropertyType.TEXT),
        ],
        vectorize=["title", "body"],
    )
    await loader.close()
    started = {
        "query": Query(),
        "aggregate": Aggregate(),
        "preprocess": PreprocessCollection(),
        "cited": CitedSummarize(),
    }
    for instance in started.values():
        await instance.startup(config)
    yield started
    for instance in started.values():
        await instance.shutdown()


def ctx(tool: Any, config: dict[str, Any]) -> ToolContext:
    return ToolContext.for_testing(tool, config=config)


async def test_tools_share_one_backend_per_process(
    tools: dict[str, Any], config: dict[str, Any]
) -> None:
    first = await tools["query"].backend(ctx(Query, config))
    second = await tools["aggregate"].backend(ctx(Aggregate, config))
    assert first is second
    assert first is await BACKENDS.backend(ctx(Query, config))


async def test_the_last_tool_out_closes_the_pool_s_backends(tmp_path: Path) -> None:
    pool = BackendPool()
    config = {"retrieval": {"kind": "embedded", "path": str(tmp_path / "s")}}
    pool.join()
    pool.join()
    backend = await pool.backend(ctx(Query, config))
    assert await backend.list_collections() == []
    await pool.leave()
    assert pool.open_backends == 1
    await pool.leave()
    assert pool.open_backends == 0
    with pytest.raises(BackendClosed):
        await backend.list_collections()


def test_a_bad_retrieval_config_names_the_field() -> None:
    with pytest.raises(NonRetryableToolError, match=r"retrieval\.embedded\.pathh"):
        retrieval_config({"retrieval": {"kind": "embedded", "pathh": "x"}})


async def test_hybrid_query_returns_citable_tickets(
    tools: dict[str, Any], config: dict[str, Any]
) -> None:
    out = await tools["query"].run(
        QueryInput(collection="SupportTickets", query="login failures", limit=5),
        ctx(Query, config),
    )
    assert out.count == 5
    assert all(len(o.ref) == 36 for o in out.objects)
    assert sum(o.properties["category"] == "authentication" for o in out.objects) >= 4


async def test_filter_only_query_sorts_the_whole_filtered_set(
    tools: dict[str, Any], config: dict[str, Any]
) -> None:
    out = await tools["query"].run(
        QueryInput(
            collection="SupportTickets",
            mode="filter",
            filters={
                "all_of": [
                    {"property": "priority", "operator": "eq", "value": "urgent"},
                    {"property": "customer_tier", "operator": "eq", "value": "enterprise"},
                ]
            },
            sort={"property": "created_at", "direction": "desc"},
            limit=3,
            properties=["ticket_id", "created_at"],
        ),
        ctx(Query, config),
    )
    truth = sorted(
        (r for r in _rows() if r["priority"] == "urgent" and r["customer_tier"] == "enterprise"),
        key=lambda r: r["created_at"],
        reverse=True,
    )[:3]
    assert [o.properties["ticket_id"] for o in out.objects] == [r["ticket_id"] for r in truth]
    assert set(out.objects[0].properties) == {"ticket_id", "created_at"}


async def test_query_on_a_missing_property_fails_naming_it(
    tools: dict[str, Any], config: dict[str, Any]
) -> None:
    with pytest.raises(NonRetryableToolError) as info:
        await tools["query"].run(
            QueryInput(
                collection="SupportTickets",
                mode="filter",
                filters={"property": "colour", "operator": "eq", "value": "red"},
            ),
            ctx(Query, config),
        )
    assert "Unknown property 'colour'" in info.value.message
    assert "valid properties: body, category" in info.value.message
    assert info.value.details["valid"][0] == "body"


async def test_query_chunks_long_documents_on_demand(
    tools: dict[str, Any], config: dict[str, Any]
) -> None:
    args = QueryInput(
        collection="Manuals", query="why did the restore drill fail", chunk_threshold_words=100
    )
    out = await tools["query"].run(args, ctx(Query, config))
    assert out.chunked
    manual = next(o for o in out.objects if o.properties["title"] == "Backup manual")
    assert manual.passages
    assert any("encryption key had expired" in p.text for p in manual.passages)
    assert len(manual.properties["body"]) <= args.max_text_chars + 1
    short = next(o for o in out.objects if o.properties["title"] == "Short note")
    assert short.passages == []
    backend = await tools["query"].backend(ctx(Query, config))
    expected = len(chunk_text(LONG_BODY))
    assert (await backend.describe("ManualsChunks")).count == expected
    again = await tools["query"].run(args, ctx(Query, config))  # chunks are reused, not redone
    assert again.chunked
    assert (await backend.describe("ManualsChunks")).count == expected


async def test_grouped_aggregate_matches_the_data_and_gives_chart_rows(
    tools: dict[str, Any], config: dict[str, Any]
) -> None:
    out = await tools["aggregate"].run(
        AggregateInput(
            collection="SupportTickets",
            group_by="product",
            filters={"property": "status", "operator": "eq", "value": "open"},
            metrics=[{"property": "resolution_hours", "ops": ["count"]}],
        ),
        ctx(Aggregate, config),
    )
    truth = Counter(r["product"] for r in _rows() if r["status"] == "open")
    assert {row["group"]: row["count"] for row in out.rows} == dict(truth)
    assert out.total == sum(truth.values())
    assert all(row["resolution_hours_count"] == 0 for row in out.rows)  # open = unresolved


async def test_aggregate_mean_without_group(tools: dict[str, Any], config: dict[str, Any]) -> None:
    out = await tools["aggregate"].run(
        AggregateInput(
            collection="SupportTickets",
            metrics=[{"property": "resolution_hours", "ops": ["mean", "max"]}],
        ),
        ctx(Aggregate, config),
    )
    hours = [r["resolution_hours"] for r in _rows() if r["resolution_hours"] is not None]
    assert out.rows[0]["resolution_hours_mean"] == pytest.approx(sum(hours) / len(hours), abs=1e-3)
    assert out.rows[0]["resolution_hours_max"] == max(hours)


async def test_preprocess_stores_a_profile_that_query_and_aggregate_use(
    tools: dict[str, Any], config: dict[str, Any]
) -> None:
    out = await tools["preprocess"].run(
        PreprocessInput(collection="SupportTickets", sample_size=300),
        ctx(PreprocessCollection, config),
    )
    profile = out.profile
    by_name = {p.name: p for p in profile.properties}
    assert profile.count == 300
    assert by_name["priority"].display == "label"
    assert {v.value for v in by_name["priority"].top_values} == {"low", "medium", "high", "urgent"}
    assert by_name["body"].display == "text"
    assert by_name["resolution_hours"].display == "number"
    assert by_name["created_at"].display == "date"
    assert by_name["tags"].display == "tags"
    assert profile.display_types[0] == "ticket"
    assert profile.mappings["ticket"]["title"] == "title"
    assert profile.mappings["document"]["content"] == "body"
    assert "SupportTickets holds 300 objects" in profile.summary
    backend = await tools["query"].backend(ctx(Query, config))
    stored = await load_profile(backend, "SupportTickets")
    assert stored == profile
    with pytest.raises(NonRetryableToolError, match="Unknown property 'team'"):
        await tools["aggregate"].run(
            AggregateInput(collection="SupportTickets", group_by="team"), ctx(Aggregate, config)
        )


async def test_availability_lists_collections_and_gives_hints(
    tools: dict[str, Any], config: dict[str, Any]
) -> None:
    available = await tools["query"].availability(
        {"collection": "SupportTickets"}, ctx(Query, config)
    )
    assert available.available
    assert "priority" in available.hints
    missing = await tools["query"].availability({"collection": "Nope"}, ctx(Query, config))
    assert not missing.available
    assert "does not exist" in missing.reason


async def test_cited_summary_cites_the_objects_it_uses(
    tools: dict[str, Any], config: dict[str, Any]
) -> None:
    found = await tools["query"].run(
        QueryInput(collection="SupportTickets", query="charged twice refund", limit=4),
        ctx(Query, config),
    )
    out = await tools["cited"].run(
        CitedSummarizeInput(
            question="Why were customers charged twice?",
            objects=[o.model_dump() for o in found.objects],
            text_properties=["title", "body"],
            max_sentences=3,
        ),
        ctx(CitedSummarize, config),
    )
    refs = {o.ref for o in found.objects}
    assert out.method == "extractive"
    assert out.citations
    assert {c.ref for c in out.citations} <= refs
    assert "[1]" in out.summary
    assert all(s.refs and set(s.refs) <= refs for s in out.sentences)


async def test_cited_summary_fetches_refs_and_fails_clearly_without_text(
    tools: dict[str, Any], config: dict[str, Any]
) -> None:
    found = await tools["query"].run(
        QueryInput(collection="SupportTickets", query="webhook", limit=2), ctx(Query, config)
    )
    out = await tools["cited"].run(
        CitedSummarizeInput(
            question="webhooks?",
            collection="SupportTickets",
            refs=[o.ref for o in found.objects],
        ),
        ctx(CitedSummarize, config),
    )
    assert {c.ref for c in out.citations} <= {o.ref for o in found.objects}
    with pytest.raises(NonRetryableToolError, match="no source text"):
        await tools["cited"].run(
            CitedSummarizeInput(question="x", objects=[]), ctx(CitedSummarize, config)
        )


def test_extractive_summary_keeps_each_sentence_s_source() -> None:
    parts = extractive(
        "refund",
        [
            Source(ref="a", text="The sky is blue. Refunds take five days."),
            Source(ref="b", text="A refund needs a receipt."),
        ],
        2,
    )
    assert [(p.text, p.refs) for p in parts] == [
        ("Refunds take five days.", ["a"]),
        ("A refund needs a receipt.", ["b"]),
    ]


ROWS = [{"group": "Atlas", "count": 12}, {"group": "Beacon", "count": 7}]


async def test_bar_chart_as_vega_lite_and_svg() -> None:
    out = await visualize(
        VisualizeInput(kind="bar", data=ROWS, x="group", y="count", title="Open tickets"),
        ToolContext.for_testing(visualize),
    )
    assert out.spec["$schema"].endswith("vega-lite/v5.json")
    assert out.spec["mark"]["type"] == "bar"
    assert out.spec["encoding"]["y"] == {"field": "count", "type": "quantitative"}
    assert out.spec["data"]["values"] == ROWS
    assert out.media_type == "image/svg+xml"
    assert out.image.lstrip().startswith("<?xml")
    assert "<svg" in out.image
    assert "Open tickets" in out.image


async def test_histogram_png_and_scatter_from_query_objects() -> None:
    objects = [{"ref": str(i), "properties": {"hours": float(i % 17), "n": i}} for i in range(200)]
    png = await visualize(
        VisualizeInput(kind="histogram", data=objects, x="hours", format="png", bins=5),
        ToolContext.for_testing(visualize),
    )
    assert png.media_type == "image/png"
    assert base64.b64decode(png.image)[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.spec["encoding"]["x"]["bin"] == {"maxbins": 5}
    scatter = await visualize(
        VisualizeInput(kind="scatter", data=objects, x="n", y="hours"),
        ToolContext.for_testing(visualize),
    )
    assert scatter.points == 200
    assert len(scatter.model_dump_json()) < 1_000_000


async def test_visualize_names_a_missing_field() -> None:
    with pytest.raises(
        NonRetryableToolError, match="no row has field 'total'; fields: count, group"
    ):
        await visualize(
            VisualizeInput(kind="line", data=ROWS, x="group", y="total"),
            ToolContext.for_testing(visualize),
        )
    with pytest.raises(ValueError, match="needs `y`"):
        VisualizeInput(kind="bar", data=ROWS, x="group")


SCRIPTED_SUMMARY = {
    "provider": "scripted",
    "script": [
        {
            "contains": ["Answer again"],
            "reply": {"sentences": [{"text": "Fixed.", "refs": ["r1"]}]},
        },
        {
            "contains": ["Question: Why?"],
            "reply": {"sentences": [{"text": "Because of r9.", "refs": ["r9"]}]},
        },
        {"contains": ["Collection SupportTickets"], "tier": "complex", "reply": "Tickets. Many."},
    ],
}


async def test_cited_summary_with_a_model_rejects_unknown_refs(
    tools: dict[str, Any], config: dict[str, Any]
) -> None:
    with_model = {**config, "llm": SCRIPTED_SUMMARY}
    out = await tools["cited"].run(
        CitedSummarizeInput(
            question="Why?", sources=[Source(ref="r1", text="One."), Source(ref="r2", text="Two.")]
        ),
        ctx(CitedSummarize, with_model),
    )
    assert out.method == "llm"
    assert out.summary == "Fixed. [1]"
    assert [c.ref for c in out.citations] == ["r1"]
    assert out.usage is not None
    assert len(out.usage["calls"]) == 2  # the hallucinated id 'r9' was re-asked once
    assert out.usage["calls"][0]["tier"] == "complex"


async def test_preprocess_summary_comes_from_the_model_when_configured(
    tools: dict[str, Any], config: dict[str, Any]
) -> None:
    out = await tools["preprocess"].run(
        PreprocessInput(collection="SupportTickets", sample_size=20),
        ctx(PreprocessCollection, {**config, "llm": SCRIPTED_SUMMARY}),
    )
    assert out.profile.summary == "Tickets. Many."
    assert out.profile.summary_method == "llm"
    assert out.usage is not None
    assert out.usage["total_tokens"] > 0


async def test_weaviate_clients_are_per_tenant_only_with_tenant_credentials() -> None:
    pool = BackendPool()
    pool.join()
    shared = {"retrieval": {"kind": "weaviate", "settings": {"mode": "local"}}}
    secret = {"retrieval": {"kind": "weaviate", "settings": {"mode": "local", "api_key_ref": "wv"}}}

    def as_tenant(tenant: str, config: dict[str, Any]) -> ToolContext:
        return ToolContext.for_testing(Query, info=CallInfo(tenant_id=tenant), config=config)

    try:
        a = await pool.backend(as_tenant("a", shared))
        assert a.name == "weaviate"
        assert await pool.backend(as_tenant("b", shared)) is a
        a_secret = await pool.backend(as_tenant("a", secret))
        assert await pool.backend(as_tenant("a", secret)) is a_secret
        assert await pool.backend(as_tenant("b", secret)) is not a_secret
        assert pool.open_backends == 3  # nothing connected yet: clients connect lazily
    finally:
        await pool.leave()

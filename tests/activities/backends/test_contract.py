"""The retrieval contract: every backend must pass every test here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from activities.backends import (
    AggregateRequest,
    Backend,
    BackendClosed,
    CollectionExists,
    InvalidFilter,
    InvalidRequest,
    NewRecord,
    PropertyMetrics,
    PropertySchema,
    PropertyType,
    SearchRequest,
    SortSpec,
    UnknownCollection,
    UnknownProperty,
    UnknownTenant,
    all_of,
    any_of,
    where,
)
from activities.backends.base import Filter, SearchMode
from activities.backends.validation import reference_id
from tests.activities.backends.backend_data import ITEM_PROPERTIES, ITEMS, unique_name

REF = {f"k{i}": reference_id(f"k{i}", {}) for i in range(1, 11)}
KEY_OF = {v: k for k, v in REF.items()}


def keys(hits: Any) -> list[str]:
    return [KEY_OF[h.id] for h in hits]


# --------------------------------------------------------------------------- collections


async def test_describe_reports_types_count_and_vectorized(backend: Backend, items: str) -> None:
    schema = await backend.describe(items)
    assert schema.name == items
    assert schema.count == 10
    assert {p.name: p.type for p in schema.properties} == {p.name: p.type for p in ITEM_PROPERTIES}
    assert schema.vectorized == ["title", "body"]
    assert items in await backend.list_collections()


async def test_collection_names_are_capitalised(backend: Backend) -> None:
    name = unique_name("lower")
    schema = await backend.create_collection(name, ITEM_PROPERTIES[:1])
    assert schema.name == "L" + name[1:]
    assert (await backend.describe(name)).name == schema.name


async def test_creating_twice_raises_unless_exist_ok(backend: Backend, items: str) -> None:
    with pytest.raises(CollectionExists):
        await backend.create_collection(items, ITEM_PROPERTIES)
    again = await backend.create_collection(items, ITEM_PROPERTIES, exist_ok=True)
    assert again.count == 10


async def test_unknown_collection_lists_the_available_ones(backend: Backend, items: str) -> None:
    with pytest.raises(UnknownCollection) as info:
        await backend.search("NoSuchThing", SearchRequest(mode="filter"))
    assert items in info.value.available
    assert "NoSuchThing" in str(info.value)


@pytest.mark.parametrize(
    ("name", "props"),
    [
        ("Good", [PropertySchema(name="id", type=PropertyType.TEXT)]),
        ("Good", [PropertySchema(name="_hidden", type=PropertyType.TEXT)]),
        ("Good", [PropertySchema(name="a b", type=PropertyType.TEXT)]),
        ("1bad", [PropertySchema(name="title", type=PropertyType.TEXT)]),
        ("Good", []),
    ],
)
async def test_invalid_definitions_are_rejected(
    backend: Backend, name: str, props: list[PropertySchema]
) -> None:
    with pytest.raises(InvalidRequest):
        await backend.create_collection(name + unique_name("X"), props)


async def test_delete_collection_removes_it(backend: Backend, items: str) -> None:
    await backend.delete_collection(items)
    assert items not in await backend.list_collections()
    with pytest.raises(UnknownCollection):
        await backend.describe(items)
    await backend.delete_collection(items)  # idempotent


# --------------------------------------------------------------------------- writes and reads


async def test_upsert_returns_stable_ids_and_updates_in_place(backend: Backend, items: str) -> None:
    changed = NewRecord(key="k3", properties={**ITEMS[2].properties, "hours": 99.0})
    ids = await backend.upsert(items, [changed, ITEMS[0]])
    assert ids == [REF["k3"], REF["k1"]]
    assert (await backend.describe(items)).count == 10
    [record] = await backend.get(items, [REF["k3"]])
    assert record.properties["hours"] == 99.0
    assert record.properties["title"] == "Invoice total is wrong"


async def test_get_keeps_order_and_skips_unknown_ids(backend: Backend, items: str) -> None:
    unknown = reference_id("nope", {})
    records = await backend.get(items, [REF["k5"], unknown, REF["k2"]])
    assert [r.id for r in records] == [REF["k5"], REF["k2"]]
    assert records[0].properties["created"] == datetime(2024, 5, 5, 12, tzinfo=UTC)
    assert records[0].properties["tags"] == ["performance"]
    with pytest.raises(InvalidRequest):
        await backend.get(items, ["not-a-uuid"])


async def test_missing_values_are_left_out(backend: Backend, items: str) -> None:
    [record] = await backend.get(items, [REF["k8"]])
    assert "hours" not in record.properties
    assert record.properties["seats"] == 3


async def test_upsert_rejects_unknown_properties_and_bad_types(
    backend: Backend, items: str
) -> None:
    with pytest.raises(UnknownProperty) as info:
        await backend.upsert(items, [NewRecord(key="x", properties={"colour": "red"})])
    assert "colour" in str(info.value)
    assert "title" in info.value.valid
    with pytest.raises(InvalidRequest):
        await backend.upsert(items, [NewRecord(key="x", properties={"seats": "many"})])


async def test_sample_returns_distinct_records(backend: Backend, items: str) -> None:
    three = await backend.sample(items, 3)
    assert len({r.id for r in three}) == 3
    assert {r.id for r in three} <= set(REF.values())
    assert len(await backend.sample(items, 50)) == 10


# --------------------------------------------------------------------------- filters

FILTER_CASES: list[tuple[str, Filter, set[str]]] = [
    ("eq text", where("product", "eq", "Atlas"), {"k1", "k2"}),
    ("eq quote", where("product", "eq", "O'Neil"), {"k9"}),
    ("ne", where("product", "ne", "Echo"), {f"k{i}" for i in (1, 2, 3, 4, 5, 6, 8, 9)}),
    ("gt number", where("hours", "gt", 20), {"k5", "k6"}),
    ("gte number", where("hours", "gte", 20), {"k4", "k5", "k6"}),
    ("lt number", where("hours", "lt", 2.5), {"k2", "k9"}),
    ("lte number", where("hours", "lte", 2.5), {"k1", "k2", "k9"}),
    ("eq int", where("seats", "eq", 250), {"k2"}),
    ("gt int", where("seats", "gt", 100), {"k2", "k5"}),
    ("eq bool", where("urgent", "eq", True), {"k1", "k2", "k7", "k9"}),
    ("gte date text", where("created", "gte", "2024-07-01"), {"k7", "k8", "k9", "k10"}),
    ("lt date", where("created", "lt", datetime(2024, 2, 1, tzinfo=UTC)), {"k1"}),
    ("in", where("priority", "in", ["urgent", "low"]), {"k2", "k6", "k8", "k9"}),
    ("contains_any array", where("tags", "contains_any", ["refund", "sso"]), {"k2", "k4"}),
    ("contains_any text", where("body", "contains_any", ["refund", "webhook"]), {"k4", "k7"}),
    ("like", where("product", "like", "Co*"), {"k3", "k4"}),
    ("like one char", where("product", "like", "Ech?"), {"k7", "k10"}),
    (
        "all_of with any_of",
        all_of(where("product", "eq", "Atlas"), any_of(where("priority", "eq", "urgent"))),
        {"k2"},
    ),
    (
        "any_of with all_of",
        any_of(
            where("product", "eq", "Drift"),
            all_of(where("hours", "gte", 16), where("hours", "lte", 20)),
        ),
        {"k4", "k8", "k10"},
    ),
]


@pytest.mark.parametrize(
    ("flt", "expected"), [c[1:] for c in FILTER_CASES], ids=[c[0] for c in FILTER_CASES]
)
async def test_filter_operators(
    backend: Backend, items: str, flt: Filter, expected: set[str]
) -> None:
    result = await backend.search(items, SearchRequest(mode="filter", filters=flt, limit=50))
    assert set(keys(result.hits)) == expected
    assert all(h.score is None for h in result.hits)


async def test_unknown_filter_property_names_the_valid_ones(backend: Backend, items: str) -> None:
    with pytest.raises(UnknownProperty) as info:
        await backend.search(
            items, SearchRequest(mode="filter", filters=where("prio", "eq", "high"))
        )
    assert info.value.property == "prio"
    assert info.value.valid == sorted(p.name for p in ITEM_PROPERTIES)


@pytest.mark.parametrize(
    "flt",
    [
        where("hours", "gt", "lots"),
        where("created", "gte", "last tuesday"),
        where("priority", "in", "high"),
        where("tags", "eq", "auth"),
        where("seats", "like", "1*"),
        where("urgent", "gt", True),
    ],
)
async def test_ill_typed_filters_are_rejected(backend: Backend, items: str, flt: Filter) -> None:
    with pytest.raises(InvalidFilter):
        await backend.search(items, SearchRequest(mode="filter", filters=flt))


# --------------------------------------------------------------------------- sorting, paging


async def test_filter_mode_sorts_then_pages(backend: Backend, items: str) -> None:
    def req(offset: int, direction: str = "desc") -> SearchRequest:
        return SearchRequest(
            mode="filter",
            sort=SortSpec(property="hours", direction=direction),
            limit=3,
            offset=offset,
        )

    assert keys((await backend.search(items, req(0))).hits) == ["k6", "k5", "k4"]
    assert keys((await backend.search(items, req(3))).hits) == ["k10", "k3", "k7"]
    ascending = await backend.search(items, req(0, "asc").model_copy(update={"limit": 10}))
    assert keys(ascending.hits)[:3] == ["k9", "k2", "k1"]
    assert keys(ascending.hits)[-1] == "k8"  # missing value sorts last


async def test_properties_limit_what_comes_back(backend: Backend, items: str) -> None:
    result = await backend.search(
        items, SearchRequest(mode="filter", properties=["title", "seats"], limit=10)
    )
    assert len(result.hits) == 10
    assert all(set(h.properties) == {"title", "seats"} for h in result.hits)
    with pytest.raises(UnknownProperty):
        await backend.search(items, SearchRequest(mode="filter", properties=["nope"]))


# --------------------------------------------------------------------------- ranked search


async def test_keyword_search_ranks_by_bm25(backend: Backend, items: str) -> None:
    result = await backend.search(items, SearchRequest(mode="keyword", query="refund", limit=5))
    assert keys(result.hits) == ["k4"]
    hit = result.hits[0]
    assert hit.score is not None
    assert hit.score > 0
    assert hit.score_details.keyword_score == hit.score


@pytest.mark.parametrize(
    ("mode", "query", "product", "limit", "expected"),
    [
        pytest.param("keyword", "login", "O'Neil", 5, ["k9"], id="keyword-filters"),
        pytest.param("hybrid", "login fails", "Atlas", 1, ["k2"], id="hybrid-filters-and-limit"),
    ],
)
async def test_ranked_search_respects_filters_and_limits(
    backend: Backend,
    items: str,
    mode: SearchMode,
    query: str,
    product: str,
    limit: int,
    expected: list[str],
) -> None:
    request = SearchRequest(
        mode=mode, query=query, filters=where("product", "eq", product), limit=limit
    )
    assert keys((await backend.search(items, request)).hits) == expected


async def test_semantic_search_finds_the_closest_text(backend: Backend, items: str) -> None:
    result = await backend.search(
        items, SearchRequest(mode="semantic", query="password reset email", limit=3)
    )
    assert keys(result.hits)[0] == "k1"
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    top = result.hits[0]
    assert top.score_details.distance is not None
    assert top.score == pytest.approx(1 - top.score_details.distance, abs=1e-5)


async def test_hybrid_alpha_one_is_semantic_and_zero_is_keyword(
    backend: Backend, items: str
) -> None:
    query = "account locked after failed login"
    semantic = await backend.search(items, SearchRequest(mode="semantic", query=query, limit=3))
    keyword = await backend.search(items, SearchRequest(mode="keyword", query=query, limit=3))
    vector_only = await backend.search(
        items, SearchRequest(mode="hybrid", query=query, alpha=1.0, limit=3)
    )
    keyword_only = await backend.search(
        items, SearchRequest(mode="hybrid", query=query, alpha=0.0, limit=3)
    )
    assert keys(vector_only.hits)[0] == keys(semantic.hits)[0] == "k9"
    assert keys(keyword_only.hits)[0] == keys(keyword.hits)[0] == "k9"
    scores = [h.score for h in keyword_only.hits]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


async def test_ranked_modes_sort_the_returned_page(backend: Backend, items: str) -> None:
    result = await backend.search(
        items,
        SearchRequest(
            mode="keyword", query="login account", sort=SortSpec(property="seats"), limit=10
        ),
    )
    seats = [h.properties["seats"] for h in result.hits]
    assert len(seats) >= 2
    assert seats == sorted(seats)  # type: ignore[type-var]


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
async def test_ranked_modes_need_a_query(mode: str) -> None:
    with pytest.raises(ValueError, match="query"):
        SearchRequest(mode=mode, query=" ")


# --------------------------------------------------------------------------- aggregate


async def test_aggregate_without_grouping(backend: Backend, items: str) -> None:
    result = await backend.aggregate(
        items,
        AggregateRequest(
            metrics=[
                PropertyMetrics(property="hours", ops=["count", "sum", "mean", "min", "max"]),
                PropertyMetrics(property="created", ops=["min", "max"]),
                PropertyMetrics(property="seats", ops=["sum"]),
            ]
        ),
    )
    assert result.total == 10
    [group] = result.groups
    assert group.value is None
    assert group.count == 10
    hours = group.metrics["hours"]
    assert hours.count == 9
    assert hours.sum == pytest.approx(138.0)
    assert hours.mean == pytest.approx(138.0 / 9)
    assert (hours.min, hours.max) == (0.5, 48.0)
    assert group.metrics["created"].min == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert group.metrics["created"].max == datetime(2024, 10, 10, 12, tzinfo=UTC)
    assert group.metrics["seats"].sum == 584


async def test_aggregate_grouped_orders_by_count_then_value(backend: Backend, items: str) -> None:
    result = await backend.aggregate(
        items,
        AggregateRequest(
            group_by="product", metrics=[PropertyMetrics(property="hours", ops=["mean"])]
        ),
    )
    assert result.group_by == "product"
    assert result.total == 10
    assert [(g.value, g.count) for g in result.groups] == [
        ("Atlas", 2),
        ("Beacon", 2),
        ("Cobalt", 2),
        ("Echo", 2),
        ("Drift", 1),
        ("O'Neil", 1),
    ]
    means = {g.value: g.metrics["hours"].mean for g in result.groups}
    assert means["Atlas"] == pytest.approx(1.75)
    assert means["Beacon"] == pytest.approx(39.0)
    assert means["Drift"] is None


async def test_aggregate_filtered_with_top_values(backend: Backend, items: str) -> None:
    result = await backend.aggregate(
        items,
        AggregateRequest(
            filters=where("urgent", "eq", True),
            metrics=[
                PropertyMetrics(property="tags", ops=["top_values"], top_k=10),
                PropertyMetrics(property="urgent", ops=["top_values"]),
            ],
        ),
    )
    assert result.total == 4
    tops = result.groups[0].metrics["tags"].top_values
    assert tops is not None
    assert [(t.value, t.count) for t in tops] == [
        ("auth", 3),
        ("email", 1),
        ("integrations", 1),
        ("sso", 1),
    ]
    flags = result.groups[0].metrics["urgent"].top_values
    assert flags is not None
    assert [(t.value, t.count) for t in flags] == [(True, 4)]


async def test_aggregate_groups_by_boolean_with_filter(backend: Backend, items: str) -> None:
    result = await backend.aggregate(
        items,
        AggregateRequest(
            group_by="urgent",
            filters=where("hours", "lt", 25),
            metrics=[PropertyMetrics(property="seats", ops=["max"])],
        ),
    )
    assert result.total == 7
    assert [(g.value, g.count, g.metrics["seats"].max) for g in result.groups] == [
        (True, 4, 250),
        (False, 3, 80),
    ]


def _metric(prop: str, op: str) -> AggregateRequest:
    return AggregateRequest(metrics=[PropertyMetrics(property=prop, ops=[op])])


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (_metric("product", "mean"), InvalidRequest),
        (_metric("size", "sum"), UnknownProperty),
        (_metric("tags", "count"), InvalidRequest),
        (AggregateRequest(group_by="hours"), InvalidRequest),
        (AggregateRequest(group_by="colour"), UnknownProperty),
    ],
)
async def test_aggregate_rejects_what_does_not_fit(
    backend: Backend, items: str, request_: AggregateRequest, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await backend.aggregate(items, request_)


# --------------------------------------------------------------------------- tenants


async def test_multi_tenant_collections_isolate_tenants(backend: Backend) -> None:
    name = unique_name("Tenanted")
    schema = await backend.create_collection(name, ITEM_PROPERTIES, multi_tenant=True)
    assert schema.multi_tenant
    await backend.upsert(name, ITEMS[:2], tenant="acme")
    await backend.upsert(name, ITEMS[2:3], tenant="globex")
    acme = await backend.search(name, SearchRequest(mode="filter", tenant="acme", limit=10))
    assert set(keys(acme.hits)) == {"k1", "k2"}
    found = await backend.search(
        name, SearchRequest(mode="keyword", query="invoice", tenant="globex")
    )
    assert keys(found.hits) == ["k3"]
    assert (await backend.describe(name, tenant="acme")).count == 2
    counted = await backend.aggregate(name, AggregateRequest(tenant="globex"))
    assert counted.total == 1
    with pytest.raises(InvalidRequest, match="multi-tenant"):
        await backend.search(name, SearchRequest(mode="filter"))
    with pytest.raises(UnknownTenant):
        await backend.search(name, SearchRequest(mode="filter", tenant="initech"))


async def test_tenant_on_a_single_tenant_collection_is_refused(
    backend: Backend, items: str
) -> None:
    with pytest.raises(InvalidRequest, match="not multi-tenant"):
        await backend.search(items, SearchRequest(mode="filter", tenant="acme"))


# --------------------------------------------------------------------------- lifecycle


async def test_calls_after_close_raise_backend_closed(backend: Backend, items: str) -> None:
    await backend.close()
    await backend.close()  # idempotent
    with pytest.raises(BackendClosed) as info:
        await backend.describe(items)
    assert info.value.retryable


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
async def test_ranked_pages_are_consecutive(backend: Backend, items: str, mode: str) -> None:
    def req(limit: int, offset: int = 0) -> SearchRequest:
        return SearchRequest(
            mode=mode,
            query="login account email failed",
            limit=limit,
            offset=offset,
        )

    whole = await backend.search(items, req(4))
    first, second = await backend.search(items, req(2)), await backend.search(items, req(2, 2))
    assert len(whole.hits) == 4
    assert keys(first.hits) + keys(second.hits) == keys(whole.hits)

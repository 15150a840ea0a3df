"""Weaviate by construction: the exact client objects our requests turn into.

No server runs here, so these tests pin down what the backend sends: filters for
every operator and nesting, hybrid alpha and fusion, returned metadata, limits,
sort, group-by aggregation, tenant selection, and the client's lifecycle.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from weaviate import exceptions as wexc
from weaviate.classes.aggregate import GroupByAggregate
from weaviate.classes.config import DataType, Tokenization
from weaviate.classes.init import Auth
from weaviate.classes.query import Filter as WFilter
from weaviate.classes.query import HybridFusion, MetadataQuery, Metrics, Sort
from weaviate.collections.classes.aggregate import (
    AggregateBoolean,
    AggregateDate,
    AggregateGroup,
    AggregateGroupByReturn,
    AggregateInteger,
    AggregateNumber,
    AggregateReturn,
    AggregateText,
    GroupedBy,
    TopOccurrence,
)
from weaviate.collections.classes.filters import _FilterAnd, _FilterOr, _Filters

from activities.backends import (
    AggregateRequest,
    BackendClosed,
    BackendUnavailable,
    CollectionSchema,
    EmbedderMismatch,
    InvalidRequest,
    NewRecord,
    PermissionDenied,
    PropertyMetrics,
    PropertySchema,
    PropertyType,
    QueryFailed,
    SearchRequest,
    SortSpec,
    UnknownCollection,
    UnknownTenant,
    all_of,
    any_of,
    where,
)
from activities.backends.embeddings import HashingEmbedder
from activities.backends.validation import check_filter, reference_id
from activities.backends.weaviate import (
    WeaviateBackend,
    connect_call,
    map_error,
)
from activities.backends.weaviate_query import (
    MARKER,
    build_aggregate,
    build_filter,
    build_search,
    collection_info,
    create_kwargs,
    hit_from_object,
    metrics_for,
    property_aggregate,
)
from activities.backends.weaviate_settings import WeaviateSettings
from tests.activities.backends.backend_data import ITEM_PROPERTIES

SCHEMA = CollectionSchema(name="Items", properties=ITEM_PROPERTIES, count=None)


def tree(f: _Filters) -> Any:
    """A comparable form of a weaviate filter (And/Or nodes do not define ==)."""
    if isinstance(f, _FilterAnd):
        return ("and", [tree(c) for c in f.filters])
    if isinstance(f, _FilterOr):
        return ("or", [tree(c) for c in f.filters])
    return f


def built(flt: Any) -> Any:
    return tree(build_filter(check_filter(SCHEMA, flt)))


# --------------------------------------------------------------------------- filters

P = WFilter.by_property


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (where("product", "eq", "Atlas"), P("product").equal("Atlas")),
        (where("product", "ne", "Atlas"), P("product").not_equal("Atlas")),
        (where("hours", "gt", 2), P("hours").greater_than(2.0)),
        (where("hours", "gte", 2.5), P("hours").greater_or_equal(2.5)),
        (where("seats", "lt", "10"), P("seats").less_than(10)),
        (where("seats", "lte", 10), P("seats").less_or_equal(10)),
        (where("urgent", "eq", "true"), P("urgent").equal(True)),
        (
            where("created", "gte", "2024-07-01"),
            P("created").greater_or_equal(datetime(2024, 7, 1, tzinfo=UTC)),
        ),
        (where("tags", "contains_any", ["a", "b"]), P("tags").contains_any(["a", "b"])),
        (where("body", "contains_any", ["refund"]), P("body").contains_any(["refund"])),
        (where("title", "like", "Log*in?"), P("title").like("Log*in?")),
    ],
    ids=lambda v: getattr(v, "operator", None) or "",
)
def test_each_operator_builds_the_matching_filter(ours: Any, theirs: Any) -> None:
    assert built(ours) == tree(theirs)


def test_in_becomes_any_of_equalities() -> None:
    assert built(where("priority", "in", ["low", "high"])) == (
        "or",
        [P("priority").equal("low"), P("priority").equal("high")],
    )


def test_nesting_builds_and_or_trees() -> None:
    ours = all_of(
        where("product", "eq", "Atlas"),
        any_of(
            where("hours", "lt", 2), all_of(where("seats", "gt", 1), where("urgent", "eq", True))
        ),
    )
    assert built(ours) == (
        "and",
        [
            P("product").equal("Atlas"),
            (
                "or",
                [
                    P("hours").less_than(2.0),
                    ("and", [P("seats").greater_than(1), P("urgent").equal(True)]),
                ],
            ),
        ],
    )


# --------------------------------------------------------------------------- search calls


def test_hybrid_call_carries_alpha_vector_fusion_and_metadata() -> None:
    req = SearchRequest(
        mode="hybrid",
        query="login",
        alpha=0.3,
        limit=7,
        offset=14,
        properties=["title"],
        filters=where("product", "eq", "Atlas"),
    )
    call = build_search(check_filter_req(req), vector=[0.1, 0.2], target_vector="default")
    assert call.method == "hybrid"
    kw = call.kwargs
    assert kw["query"] == "login"
    assert kw["alpha"] == 0.3
    assert kw["vector"] == [0.1, 0.2]
    assert kw["target_vector"] == "default"
    assert kw["fusion_type"] == HybridFusion.RANKED
    assert kw["return_metadata"] == MetadataQuery(score=True, explain_score=True)
    assert (kw["limit"], kw["offset"]) == (7, 14)
    assert kw["return_properties"] == ["title"]
    assert tree(kw["filters"]) == P("product").equal("Atlas")


def check_filter_req(req: SearchRequest) -> SearchRequest:
    assert req.filters is not None
    return req.model_copy(update={"filters": check_filter(SCHEMA, req.filters)})


def test_semantic_uses_near_vector_with_our_vectors_and_near_text_without() -> None:
    req = SearchRequest(mode="semantic", query="password reset", limit=3)
    with_vector = build_search(req, vector=[1.0, 0.0])
    assert with_vector.method == "near_vector"
    assert with_vector.kwargs["near_vector"] == [1.0, 0.0]
    assert with_vector.kwargs["return_metadata"] == MetadataQuery(distance=True)
    assert "target_vector" not in with_vector.kwargs
    server_side = build_search(req)
    assert server_side.method == "near_text"
    assert server_side.kwargs["query"] == "password reset"
    assert server_side.kwargs["offset"] is None
    assert server_side.kwargs["filters"] is None


def test_keyword_uses_bm25_with_score_metadata() -> None:
    call = build_search(SearchRequest(mode="keyword", query="refund", limit=5))
    assert call.method == "bm25"
    assert call.kwargs["query"] == "refund"
    assert call.kwargs["limit"] == 5
    assert call.kwargs["return_metadata"] == MetadataQuery(score=True, explain_score=True)


def test_filter_mode_fetches_objects_with_server_side_sort() -> None:
    req = SearchRequest(mode="filter", sort=SortSpec(property="hours", direction="desc"), limit=3)
    call = build_search(req)
    assert call.method == "fetch_objects"
    assert call.kwargs["sort"].sorts == Sort.by_property("hours", ascending=False).by_id().sorts
    assert call.kwargs["return_metadata"] is None
    assert build_search(SearchRequest(mode="filter")).kwargs["sort"].sorts == Sort.by_id().sorts


def test_results_become_hits_with_scores() -> None:
    obj = SimpleNamespace(
        uuid="6f1d3a52-2a8e-5b7c-9f43-6b1f0d7e2c11",
        properties={"title": "x", "hours": None},
        metadata=SimpleNamespace(distance=0.25, score=None, explain_score=None),
    )
    hit = hit_from_object(obj, "semantic")
    assert (hit.id, hit.properties, hit.score) == (str(obj.uuid), {"title": "x"}, 0.75)
    assert hit.score_details.distance == 0.25
    obj.metadata = SimpleNamespace(distance=None, score=1.5, explain_score="bm25: 1.5")
    keyword = hit_from_object(obj, "keyword")
    assert (keyword.score, keyword.score_details.keyword_score) == (1.5, 1.5)
    assert keyword.score_details.explain == "bm25: 1.5"
    assert hit_from_object(obj, "filter").score is None


# --------------------------------------------------------------------------- aggregate


def test_group_by_aggregation_builds_group_and_metrics() -> None:
    req = AggregateRequest(
        group_by="product",
        group_limit=20,
        filters=check_filter(SCHEMA, where("urgent", "eq", True)),
        metrics=[
            PropertyMetrics(property="hours", ops=["mean", "max"]),
            PropertyMetrics(property="seats", ops=["sum", "count"]),
            PropertyMetrics(property="tags", ops=["top_values"], top_k=3),
            PropertyMetrics(property="created", ops=["min"]),
            PropertyMetrics(property="urgent", ops=["top_values"]),
        ],
    )
    call = build_aggregate(SCHEMA, req)
    assert call.kwargs["group_by"] == GroupByAggregate(prop="product", limit=20)
    assert call.kwargs["total_count"] is True
    assert tree(call.kwargs["filters"]) == P("urgent").equal(True)
    assert call.kwargs["return_metrics"] == [
        Metrics("hours").number(mean=True, maximum=True),
        Metrics("seats").integer(sum_=True, count=True),
        Metrics("tags").text(top_occurrences_count=True, top_occurrences_value=True, limit=3),
        Metrics("created").date_(minimum=True),
        Metrics("urgent").boolean(total_true=True, total_false=True),
    ]
    assert build_aggregate(SCHEMA, AggregateRequest()).kwargs["group_by"] is None


def test_metric_results_are_read_back() -> None:
    hours = PropertySchema(name="hours", type=PropertyType.NUMBER)
    number = AggregateNumber(
        count=3, maximum=9.0, mean=4.0, median=None, minimum=1.0, mode=None, sum_=12.0
    )
    got = property_aggregate(hours, ["sum", "mean", "min", "max", "count"], number)
    assert (got.count, got.sum, got.mean, got.min, got.max) == (3, 12.0, 4.0, 1.0, 9.0)
    ints = AggregateInteger(
        count=0, maximum=None, mean=None, median=None, minimum=None, mode=None, sum_=0
    )
    assert property_aggregate(hours, ["sum"], ints).sum is None  # no values, no sum
    text = AggregateText(
        count=5,
        top_occurrences=[TopOccurrence(count=1, value="b"), TopOccurrence(count=4, value="a")],
    )
    tops = property_aggregate(hours, ["top_values"], text).top_values
    assert tops is not None
    assert [(t.value, t.count) for t in tops] == [("a", 4), ("b", 1)]
    flags = AggregateBoolean(
        count=3, percentage_false=None, percentage_true=None, total_false=2, total_true=1
    )
    assert [
        (t.value, t.count)
        for t in property_aggregate(hours, ["top_values"], flags).top_values or []
    ] == [
        (False, 2),
        (True, 1),
    ]
    date = AggregateDate(
        count=2, maximum="2024-05-01T00:00:00Z", median=None, minimum=None, mode=None
    )
    assert property_aggregate(hours, ["max"], date).max == datetime(2024, 5, 1, tzinfo=UTC)


def test_text_metrics_without_top_values_ask_for_no_limit() -> None:
    prop = PropertySchema(name="product", type=PropertyType.TEXT)
    assert metrics_for(prop, ["count"], 5) == Metrics("product").text(count=True)


# --------------------------------------------------------------------------- schema


def test_created_collections_use_field_tokenisation_for_labels() -> None:
    kwargs = create_kwargs(
        "Items", ITEM_PROPERTIES, ["title", "body"], multi_tenant=True, embedder_name="e-1"
    )
    props = {p.name: p for p in kwargs["properties"]}
    assert props["title"].tokenization == Tokenization.WORD
    assert props["product"].tokenization == Tokenization.FIELD
    assert props["hours"].tokenization is None
    assert props["tags"].dataType == DataType.TEXT_ARRAY
    assert json.loads(kwargs["description"].removeprefix(MARKER)) == {
        "vectorize": ["title", "body"],
        "embedder": "e-1",
    }
    assert kwargs["multi_tenancy_config"].enabled is True
    assert kwargs["vector_config"].name == "default"


def _config(description: str = "", vectorizer: str = "none", tenants: bool = False) -> Any:
    return SimpleNamespace(
        name="Items",
        description=description,
        properties=[
            SimpleNamespace(name="title", data_type=DataType.TEXT, description=None),
            SimpleNamespace(name="seats", data_type=DataType.INT, description="How many"),
            SimpleNamespace(name="where", data_type=DataType.GEO_COORDINATES, description=None),
        ],
        multi_tenancy_config=SimpleNamespace(enabled=tenants),
        vector_config={
            "default": SimpleNamespace(vectorizer=SimpleNamespace(vectorizer=vectorizer))
        },
        vectorizer=None,
    )


def test_collection_info_reads_types_and_vectorisation() -> None:
    info = collection_info(_config(MARKER + '{"vectorize": ["title"], "embedder": "e-1"}'))
    assert [(p.name, p.type) for p in info.schema.properties] == [
        ("title", PropertyType.TEXT),
        ("seats", PropertyType.INT),
        ("where", PropertyType.OTHER),
    ]
    assert (info.client_vectors, info.target_vector, info.embedder) == (True, "default", "e-1")
    server = collection_info(_config(vectorizer="text2vec-openai", tenants=True))
    assert not server.client_vectors
    assert server.schema.multi_tenant
    assert server.schema.vectorized == ["title"]


# --------------------------------------------------------------------------- connection


def test_custom_connection_from_url_with_resolved_key() -> None:
    settings = WeaviateSettings.from_url("https://db.example:8443", grpc_port=443)
    call = connect_call(settings, "k-123", {"X-OpenAI-Api-Key": "sk"})
    assert call.helper == "use_async_with_custom"
    kw = call.kwargs
    assert (kw["http_host"], kw["http_port"], kw["http_secure"]) == ("db.example", 8443, True)
    assert (kw["grpc_host"], kw["grpc_port"], kw["grpc_secure"]) == ("db.example", 443, True)
    assert kw["auth_credentials"] == Auth.api_key("k-123")
    assert kw["headers"] == {"X-OpenAI-Api-Key": "sk"}
    timeout = kw["additional_config"].timeout
    assert (timeout.init, timeout.query, timeout.insert) == (5.0, 30.0, 90.0)


def test_cloud_and_local_connections() -> None:
    cloud = WeaviateSettings(mode="cloud", cluster_url="https://x.weaviate.cloud")
    call = connect_call(cloud, "key", {})
    assert call.helper == "use_async_with_weaviate_cloud"
    assert call.kwargs["cluster_url"] == "https://x.weaviate.cloud"
    assert call.kwargs["auth_credentials"] == Auth.api_key("key")
    with pytest.raises(InvalidRequest, match="api_key_ref"):
        connect_call(cloud, None, {})
    local = connect_call(WeaviateSettings(http_port=8081), None, {})
    assert local.helper == "use_async_with_local"
    assert (local.kwargs["port"], local.kwargs["auth_credentials"]) == (8081, None)
    assert local.kwargs["headers"] is None


def test_settings_hold_references_not_secrets() -> None:
    settings = WeaviateSettings(api_key_ref="vault:weaviate/key")
    assert "vault:weaviate/key" in settings.model_dump_json()
    assert "api_key" not in WeaviateSettings.model_fields


class _Status(wexc.UnexpectedStatusCodeError):
    def __init__(self, code: int) -> None:
        Exception.__init__(self, f"status {code}")
        self._status_code = code
        self.message = f"status {code}"

    @property
    def status_code(self) -> int:
        return self._status_code


@pytest.mark.parametrize(
    ("exc", "expected", "retryable"),
    [
        (wexc.WeaviateConnectionError("down"), BackendUnavailable, True),
        (wexc.WeaviateTimeoutError("slow"), BackendUnavailable, True),
        (TimeoutError(), BackendUnavailable, True),
        (wexc.WeaviateClosedClientError(), BackendClosed, True),
        (_Status(503), BackendUnavailable, True),
        (_Status(429), BackendUnavailable, True),
        (_Status(403), PermissionDenied, False),
        (_Status(422), QueryFailed, False),
        (wexc.WeaviateQueryError("bad sort", "gRPC"), QueryFailed, False),
        (wexc.WeaviateQueryError("StatusCode.UNAVAILABLE", "gRPC"), BackendUnavailable, True),
        (RuntimeError("boom"), QueryFailed, False),
    ],
)
def test_client_errors_map_to_typed_errors(
    exc: BaseException, expected: type[Exception], retryable: bool
) -> None:
    mapped = map_error(exc)
    assert type(mapped) is expected
    assert mapped.retryable is retryable


# --------------------------------------------------------------------------- fake client


class _TenantCalls:
    """A fake client part that records each call with the tenant it was made for."""

    def __init__(
        self, log: list[tuple[str, str | None, dict[str, Any]]], tenant: str | None
    ) -> None:
        self._log = log
        self._tenant = tenant

    def _record(self, method: str, kwargs: dict[str, Any]) -> None:
        self._log.append((method, self._tenant, kwargs))


class FakeQuery(_TenantCalls):
    objects: list[Any]

    def __init__(
        self, log: list[tuple[str, str | None, dict[str, Any]]], tenant: str | None
    ) -> None:
        super().__init__(log, tenant)
        self.objects = []

    def __getattr__(self, method: str) -> Any:
        async def call(**kwargs: Any) -> Any:
            self._record(method, kwargs)
            return SimpleNamespace(objects=self.objects)

        return call


class FakeAggregate(_TenantCalls):
    async def over_all(self, **kwargs: Any) -> Any:
        self._record("over_all", kwargs)
        if kwargs.get("group_by") is not None:
            return AggregateGroupByReturn(
                groups=[
                    AggregateGroup(
                        grouped_by=GroupedBy(prop="product", value="Beta"),
                        properties={},
                        total_count=2,
                    ),
                    AggregateGroup(
                        grouped_by=GroupedBy(prop="product", value="Acme"),
                        properties={},
                        total_count=5,
                    ),
                ]
            )
        return AggregateReturn(properties={}, total_count=7)


class FakeData(_TenantCalls):
    async def insert_many(self, objects: list[Any]) -> Any:
        self._record("insert_many", {"objects": objects})
        return SimpleNamespace(has_errors=False, errors={})


class FakeTenants:
    def __init__(self, names: set[str], log: list[Any]) -> None:
        self.names = names
        self._log = log

    async def get(self) -> dict[str, Any]:
        self._log.append(("tenants.get", None, {}))
        return {n: object() for n in self.names}

    async def create(self, tenants: list[Any]) -> None:
        self._log.append(("tenants.create", None, {"names": [t.name for t in tenants]}))
        self.names.update(t.name for t in tenants)


class FakeHandle:
    def __init__(self, client: FakeClient, tenant: str | None = None) -> None:
        self.client = client
        self.query = FakeQuery(client.log, tenant)
        self.aggregate = FakeAggregate(client.log, tenant)
        self.data = FakeData(client.log, tenant)
        self.tenants = FakeTenants(client.tenant_names, client.log)
        self.config = SimpleNamespace(get=self._config)

    async def _config(self) -> Any:
        return self.client.config

    def with_tenant(self, tenant: str) -> FakeHandle:
        self.client.tenants_used.append(tenant)
        return FakeHandle(self.client, tenant)


class FakeCollections:
    def __init__(self, client: FakeClient) -> None:
        self.client = client

    async def exists(self, name: str) -> bool:
        return name in self.client.names

    def use(self, name: str) -> FakeHandle:
        return FakeHandle(self.client)

    async def list_all(self, simple: bool = True) -> dict[str, Any]:
        return dict.fromkeys(self.client.names)

    async def create(self, **kwargs: Any) -> None:
        self.client.log.append(("create", None, kwargs))
        self.client.names.add(kwargs["name"])

    async def delete(self, name: str) -> None:
        self.client.names.discard(name)


class FakeClient:
    def __init__(self, config: Any, *, fail_connects: int = 0) -> None:
        self.config = config
        self.names = {"Items"}
        self.tenant_names = {"acme"}
        self.tenants_used: list[str] = []
        self.log: list[tuple[str, str | None, dict[str, Any]]] = []
        self.connects = 0
        self.closes = 0
        self.fail_connects = fail_connects
        self.collections = FakeCollections(self)

    async def connect(self) -> None:
        self.connects += 1
        await asyncio.sleep(0.01)
        if self.connects <= self.fail_connects:
            raise wexc.WeaviateConnectionError("refused")

    async def close(self) -> None:
        self.closes += 1


def _items_config(tenants: bool = False, embedder: str = "hashing-v1-384") -> Any:
    return SimpleNamespace(
        name="Items",
        description=MARKER + json.dumps({"vectorize": ["title", "body"], "embedder": embedder}),
        properties=[
            SimpleNamespace(
                name=p.name,
                data_type={
                    PropertyType.TEXT: DataType.TEXT,
                    PropertyType.NUMBER: DataType.NUMBER,
                    PropertyType.INT: DataType.INT,
                    PropertyType.BOOLEAN: DataType.BOOL,
                    PropertyType.DATE: DataType.DATE,
                    PropertyType.TEXT_ARRAY: DataType.TEXT_ARRAY,
                }[p.type],
                description=None,
            )
            for p in ITEM_PROPERTIES
        ],
        multi_tenancy_config=SimpleNamespace(enabled=tenants),
        vector_config={"default": SimpleNamespace(vectorizer=SimpleNamespace(vectorizer="none"))},
        vectorizer=None,
    )


class Harness:
    """A backend wired to fake clients, counting factory calls and secret lookups."""

    def __init__(self, config: Any = None, *, fail_connects: int = 0, **settings: Any) -> None:
        self.clients: list[FakeClient] = []
        self.factory_args: list[tuple[str | None, dict[str, str]]] = []
        self.secrets: list[str] = []
        self.fail_connects = fail_connects
        self.config = config or _items_config()
        self.backend = WeaviateBackend(
            WeaviateSettings(api_key_ref="vault:wv", **settings),
            resolve_secret=self._resolve,
            embedder=HashingEmbedder(),
            client_factory=self._factory,
        )

    async def _resolve(self, ref: str) -> str:
        self.secrets.append(ref)
        return f"secret-for-{ref}"

    def _factory(self, settings: WeaviateSettings, key: str | None, headers: dict[str, str]) -> Any:
        self.factory_args.append((key, headers))
        client = FakeClient(self.config, fail_connects=self.fail_connects)
        self.fail_connects = max(0, self.fail_connects - 1)
        self.clients.append(client)
        return client

    @property
    def log(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        return [entry for c in self.clients for entry in c.log]


async def test_client_is_created_once_reused_and_closed() -> None:
    h = Harness()
    requests = [SearchRequest(mode="keyword", query=f"q{i}") for i in range(6)]
    await asyncio.gather(*(h.backend.search("items", r) for r in requests))
    await h.backend.aggregate("Items", AggregateRequest())
    assert len(h.clients) == 1
    assert h.clients[0].connects == 1
    assert h.factory_args == [("secret-for-vault:wv", {})]
    assert h.secrets == ["vault:wv"]
    assert [m for m, _, _ in h.log].count("bm25") == 6
    await h.backend.close()
    await h.backend.close()
    assert h.clients[0].closes == 1
    with pytest.raises(BackendClosed):
        await h.backend.search("Items", requests[0])
    assert len(h.clients) == 1


async def test_failed_connect_is_retryable_and_retried_on_the_next_call() -> None:
    h = Harness(fail_connects=1)
    with pytest.raises(BackendUnavailable) as info:
        await h.backend.list_collections()
    assert info.value.retryable
    assert h.clients[0].closes == 1  # the half-open client was released
    assert await h.backend.list_collections() == ["Items"]
    assert len(h.clients) == 2


async def test_connect_timeout_is_bounded() -> None:
    h = Harness(connect_timeout=0.001)
    with pytest.raises(BackendUnavailable, match="did not answer"):
        await h.backend.list_collections()


async def test_search_sends_the_built_call_with_our_query_vector() -> None:
    h = Harness()
    await h.backend.search(
        "Items",
        SearchRequest(mode="hybrid", query="login", alpha=0.7, filters=where("seats", "gt", "3")),
    )
    [(_, tenant, kwargs)] = [e for e in h.log if e[0] == "hybrid"]
    assert tenant is None
    assert kwargs["alpha"] == 0.7
    assert kwargs["target_vector"] == "default"
    assert kwargs["vector"] == (await HashingEmbedder().embed(["login"]))[0]
    assert tree(kwargs["filters"]) == P("seats").greater_than(3)


async def test_tenant_selection_uses_with_tenant_and_checks_existence_once() -> None:
    h = Harness(_items_config(tenants=True))
    for _ in range(3):
        await h.backend.search("Items", SearchRequest(mode="filter", tenant="acme"))
    assert h.clients[0].tenants_used == ["acme"] * 3
    assert [m for m, _, _ in h.log].count("tenants.get") == 1
    assert [t for m, t, _ in h.log if m == "fetch_objects"] == ["acme"] * 3
    with pytest.raises(UnknownTenant):
        await h.backend.search("Items", SearchRequest(mode="filter", tenant="initech"))
    with pytest.raises(InvalidRequest, match="multi-tenant"):
        await h.backend.search("Items", SearchRequest(mode="filter"))


async def test_upsert_creates_missing_tenants_and_sends_named_vectors() -> None:
    h = Harness(_items_config(tenants=True))
    record = NewRecord(key="k1", properties={"title": "Login fails", "hours": None})
    ids = await h.backend.upsert("Items", [record], tenant="globex")
    assert ids == [reference_id("k1", {})]
    assert ("tenants.create", None, {"names": ["globex"]}) in h.log
    [(_, tenant, kwargs)] = [e for e in h.log if e[0] == "insert_many"]
    assert tenant == "globex"
    [obj] = kwargs["objects"]
    assert str(obj.uuid) == ids[0]
    assert obj.properties == {"title": "Login fails"}
    assert obj.vector == {"default": (await HashingEmbedder().embed(["Login fails"]))[0]}


async def test_grouped_aggregate_also_counts_the_total_and_orders_groups() -> None:
    h = Harness()
    result = await h.backend.aggregate(
        "Items", AggregateRequest(group_by="product", filters=where("urgent", "eq", True))
    )
    calls = [kw for m, _, kw in h.log if m == "over_all"]
    assert [kw.get("group_by") for kw in calls] == [
        GroupByAggregate(prop="product", limit=100),
        None,
    ]
    assert all(tree(kw["filters"]) == P("urgent").equal(True) for kw in calls)
    assert result.total == 7
    assert [(g.value, g.count) for g in result.groups] == [("Acme", 5), ("Beta", 2)]


async def test_unknown_collection_and_embedder_mismatch() -> None:
    h = Harness(_items_config(embedder="all-minilm-l6-v2"))
    with pytest.raises(UnknownCollection) as info:
        await h.backend.describe("Nope")
    assert info.value.available == ["Items"]
    with pytest.raises(EmbedderMismatch):
        await h.backend.search("Items", SearchRequest(mode="semantic", query="x"))
    await h.backend.search("Items", SearchRequest(mode="keyword", query="x"))  # no vectors needed


async def test_create_collection_passes_the_built_configuration() -> None:
    h = Harness()
    schema = await h.backend.create_collection("tickets", ITEM_PROPERTIES, vectorize=["body"])
    assert schema.name == "Tickets"
    [(_, _, kwargs)] = [e for e in h.log if e[0] == "create"]
    assert kwargs == create_kwargs(
        "Tickets", ITEM_PROPERTIES, ["body"], multi_tenant=False, embedder_name="hashing-v1-384"
    ) | {"vector_config": kwargs["vector_config"]}
    assert kwargs["vector_config"].name == "default"


async def test_weaviate_calls_are_child_spans_of_the_tool_with_its_identity() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from foundation.telemetry.tracing import build_tracer_provider, tool_scope

    exporter = InMemorySpanExporter()
    provider = build_tracer_provider("weaviate-test", exporter=exporter, batch=False)
    assert provider is not None
    tracer = provider.get_tracer("test")
    h = Harness()
    with (
        tracer.start_as_current_span("RunActivity:query@1.0.0") as activity,
        tool_scope(name="query", version="1.0.0", tenant="acme", tracer=tracer),
    ):
        await h.backend.search("Items", SearchRequest(mode="keyword", query="login"))
    [span] = [s for s in exporter.get_finished_spans() if s.name == "weaviate.query"]
    assert span.parent is not None
    assert span.parent.span_id == activity.get_span_context().span_id
    attributes = dict(span.attributes or {})
    assert attributes["db.system"] == "weaviate"
    assert attributes["db.collection.name"] == "Items"
    assert (attributes["tool.name"], attributes["tool.version"]) == ("query", "1.0.0")
    assert attributes["tenant"] == "acme"
    provider.shutdown()

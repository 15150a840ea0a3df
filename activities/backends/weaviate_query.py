"""Pure translations between our retrieval models and weaviate-client v4 objects.

Nothing here does I/O, so tests can assert the exact ``Filter``, ``MetadataQuery``,
``Sort``, ``GroupByAggregate`` and ``Metrics`` objects a request turns into, and
parse hand-made result objects back into our models.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

with warnings.catch_warnings(record=True):
    # authlib (a weaviate-client dependency) forces an "always" filter for its own
    # httpx deprecation warning at import; recording swallows it.
    from weaviate.classes.aggregate import GroupByAggregate
    from weaviate.classes.config import (
        Configure,
        DataType,
        Property,
        Tokenization,
        VectorDistances,
    )
    from weaviate.classes.query import Filter as WFilter
    from weaviate.classes.query import HybridFusion, MetadataQuery, Metrics, Sort
    from weaviate.collections.classes.aggregate import (
        AggregateBoolean,
        AggregateDate,
        AggregateInteger,
        AggregateNumber,
        AggregateText,
    )
    from weaviate.collections.classes.filters import _FilterByProperty, _Filters

from activities.backends.base import (
    AggregateGroup,
    AggregateRequest,
    AllOf,
    AnyOf,
    CollectionSchema,
    Condition,
    Filter,
    PropertyAggregate,
    PropertySchema,
    PropertyType,
    ScoreDetails,
    SearchHit,
    SearchRequest,
    SortSpec,
    TopValue,
)
from activities.backends.validation import coerce_scalar, to_datetime

MARKER = "treeflow:"
"""Prefix of the collection description holding our JSON settings (vectorize, embedder)."""

DEFAULT_VECTOR = "default"
"""Name of the self-provided named vector on collections Treeflow creates."""

TO_WEAVIATE_TYPE: dict[PropertyType, DataType] = {
    PropertyType.TEXT: DataType.TEXT,
    PropertyType.TEXT_ARRAY: DataType.TEXT_ARRAY,
    PropertyType.INT: DataType.INT,
    PropertyType.INT_ARRAY: DataType.INT_ARRAY,
    PropertyType.NUMBER: DataType.NUMBER,
    PropertyType.NUMBER_ARRAY: DataType.NUMBER_ARRAY,
    PropertyType.BOOLEAN: DataType.BOOL,
    PropertyType.DATE: DataType.DATE,
}
FROM_WEAVIATE_TYPE: dict[str, PropertyType] = {dt.value: pt for pt, dt in TO_WEAVIATE_TYPE.items()}

# --------------------------------------------------------------------------- filters


def build_filter(flt: Filter) -> _Filters:
    """Our (validated, coerced) filter tree as a ``weaviate.classes.query.Filter``."""
    if isinstance(flt, AllOf):
        return WFilter.all_of([build_filter(f) for f in flt.all_of])
    if isinstance(flt, AnyOf):
        return WFilter.any_of([build_filter(f) for f in flt.any_of])
    return _build_condition(flt)


_COMPARISONS: dict[str, Callable[[_FilterByProperty, Any], _Filters]] = {
    "eq": _FilterByProperty.equal,
    "ne": _FilterByProperty.not_equal,
    "gt": _FilterByProperty.greater_than,
    "gte": _FilterByProperty.greater_or_equal,
    "lt": _FilterByProperty.less_than,
    "lte": _FilterByProperty.less_or_equal,
    "contains_any": _FilterByProperty.contains_any,
    "like": _FilterByProperty.like,
}
"""Each operator but `in` as the Weaviate property-filter method it calls."""


def _build_condition(cond: Condition) -> _Filters:
    value: Any = cond.value
    if cond.operator == "in":
        return WFilter.any_of([WFilter.by_property(cond.property).equal(v) for v in value])
    compare = _COMPARISONS.get(cond.operator)
    if compare is None:  # pragma: no cover
        raise ValueError(f"unsupported operator {cond.operator!r}")
    return compare(WFilter.by_property(cond.property), value)


def build_sort(sort: SortSpec | None) -> Any:
    """A ``Sort`` for ``fetch_objects``; the reference id breaks ties (and orders unsorted
    pages), as in the embedded store, so offset paging is stable."""
    if sort is None:
        return Sort.by_id()
    return Sort.by_property(sort.property, ascending=sort.direction == "asc").by_id()


# --------------------------------------------------------------------------- search

QueryMethod = Literal["fetch_objects", "bm25", "near_vector", "near_text", "hybrid"]


@dataclass(frozen=True)
class QueryCall:
    """One call on ``collection.query``: the method name and its keyword arguments."""

    method: QueryMethod
    kwargs: dict[str, Any] = field(default_factory=dict)


def metadata_for(mode: str) -> MetadataQuery | None:
    """The metadata each mode needs to fill ``score`` and ``score_details``."""
    if mode == "semantic":
        return MetadataQuery(distance=True)
    if mode in ("keyword", "hybrid"):
        return MetadataQuery(score=True, explain_score=True)
    return None


def build_search(
    request: SearchRequest,
    *,
    vector: Sequence[float] | None = None,
    target_vector: str | None = None,
) -> QueryCall:
    """The query call for a validated request.

    ``vector`` is the query embedding when the collection stores client-side vectors;
    without it semantic search uses ``near_text`` (the server's vectorizer). In ranked
    modes Weaviate cannot sort, so ``sort`` is applied to the returned page by the caller.
    """
    common: dict[str, Any] = {
        "limit": request.limit,
        "offset": request.offset or None,
        "filters": build_filter(request.filters) if request.filters is not None else None,
        "return_properties": request.properties,
        "return_metadata": metadata_for(request.mode),
    }
    query = request.query or ""
    if request.mode == "filter":
        return QueryCall("fetch_objects", {**common, "sort": build_sort(request.sort)})
    if request.mode == "keyword":
        return QueryCall("bm25", {"query": query, **common})
    vector_args: dict[str, Any] = {"target_vector": target_vector} if target_vector else {}
    if request.mode == "semantic":
        if vector is None:
            return QueryCall("near_text", {"query": query, **vector_args, **common})
        return QueryCall("near_vector", {"near_vector": list(vector), **vector_args, **common})
    return QueryCall(
        "hybrid",
        {
            "query": query,
            "alpha": request.alpha,
            "vector": list(vector) if vector is not None else None,
            "fusion_type": HybridFusion.RANKED,
            **vector_args,
            **common,
        },
    )


def build_get(ids: Sequence[str]) -> QueryCall:
    """Fetch objects by reference id."""
    return QueryCall(
        "fetch_objects",
        {"filters": WFilter.by_id().contains_any(list(ids)), "limit": max(len(ids), 1)},
    )


def hit_from_object(obj: Any, mode: str) -> SearchHit:
    """Our hit from a returned Weaviate object (``uuid``, ``properties``, ``metadata``)."""
    md = obj.metadata
    score: float | None = None
    details = ScoreDetails()
    if mode == "semantic" and md is not None and md.distance is not None:
        score = 1.0 - float(md.distance)
        details = ScoreDetails(distance=float(md.distance))
    elif mode in ("keyword", "hybrid") and md is not None and md.score is not None:
        score = float(md.score)
        details = ScoreDetails(
            keyword_score=score if mode == "keyword" else None,
            explain=md.explain_score or None,
        )
    return SearchHit(
        id=str(obj.uuid),
        properties=clean_properties(obj.properties),
        score=score,
        score_details=details,
    )


def clean_properties(props: dict[str, Any]) -> dict[str, Any]:
    """Drop nulls and references; dates come back as aware datetimes already."""
    return {k: v for k, v in props.items() if v is not None and not hasattr(v, "objects")}


# --------------------------------------------------------------------------- aggregate


def metrics_for(prop: PropertySchema, ops: Sequence[str], top_k: int) -> Any:
    """The ``Metrics`` builder for one property, by its type."""
    m = Metrics(prop.name)
    want = set(ops)
    if prop.type in (PropertyType.INT, PropertyType.NUMBER):
        build = m.integer if prop.type is PropertyType.INT else m.number
        return build(
            count="count" in want,
            sum_="sum" in want,
            mean="mean" in want,
            minimum="min" in want,
            maximum="max" in want,
        )
    if prop.type is PropertyType.DATE:
        return m.date_(count="count" in want, minimum="min" in want, maximum="max" in want)
    if prop.type is PropertyType.BOOLEAN:
        return m.boolean(
            count="count" in want,
            total_true="top_values" in want,
            total_false="top_values" in want,
        )
    return m.text(
        count="count" in want,
        top_occurrences_count="top_values" in want,
        top_occurrences_value="top_values" in want,
        limit=top_k if "top_values" in want else None,
    )


@dataclass(frozen=True)
class AggregateCall:
    """Keyword arguments of ``collection.aggregate.over_all``."""

    kwargs: dict[str, Any]


def build_aggregate(schema: CollectionSchema, request: AggregateRequest) -> AggregateCall:
    """``over_all`` arguments for a validated request."""
    metrics = []
    for metric in request.metrics:
        prop = schema.get_property(metric.property)
        assert prop is not None  # checked by validation.check_aggregate
        metrics.append(metrics_for(prop, metric.ops, metric.top_k))
    return AggregateCall(
        {
            "filters": build_filter(request.filters) if request.filters is not None else None,
            "group_by": (
                GroupByAggregate(prop=request.group_by, limit=request.group_limit)
                if request.group_by
                else None
            ),
            "total_count": True,
            "return_metrics": metrics or None,
        }
    )


def _number_values(want: set[str], agg: AggregateInteger | AggregateNumber) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sum": agg.sum_ if agg.count else None,
        "mean": agg.mean,
        "min": agg.minimum,
        "max": agg.maximum,
    }
    return {op: v for op, v in values.items() if op in want}


def _date_values(want: set[str], agg: AggregateDate) -> dict[str, Any]:
    values = {
        "min": to_datetime(agg.minimum) if agg.minimum else None,
        "max": to_datetime(agg.maximum) if agg.maximum else None,
    }
    return {op: v for op, v in values.items() if op in want}


def _ranked_tops(pairs: list[tuple[Any, int]]) -> list[TopValue]:
    pairs.sort(key=lambda p: (-p[1], str(p[0])))
    return [TopValue(value=v, count=c) for v, c in pairs]


def _top_values(want: set[str], agg: Any) -> dict[str, Any]:
    if "top_values" not in want:
        return {}
    if isinstance(agg, AggregateBoolean):
        pairs = [(True, agg.total_true or 0), (False, agg.total_false or 0)]
        return {"top_values": [t for t in _ranked_tops(pairs) if t.count]}
    if isinstance(agg, AggregateText):
        tops = [(o.value, o.count or 0) for o in agg.top_occurrences if o.value is not None]
        return {"top_values": _ranked_tops(tops)}
    return {}


def property_aggregate(prop: PropertySchema, ops: Sequence[str], agg: Any) -> PropertyAggregate:
    """Our metrics from one Weaviate ``Aggregate*`` result."""
    want = set(ops)
    values: dict[str, Any] = {"count": agg.count} if "count" in want else {}
    if isinstance(agg, AggregateInteger | AggregateNumber):
        values.update(_number_values(want, agg))
    elif isinstance(agg, AggregateDate):
        values.update(_date_values(want, agg))
    else:
        values.update(_top_values(want, agg))
    return PropertyAggregate(**values)


def group_from(
    schema: CollectionSchema,
    request: AggregateRequest,
    value: Any,
    total_count: int | None,
    properties: dict[str, Any],
) -> AggregateGroup:
    """One of our groups from a Weaviate group (or the ungrouped result)."""
    metrics: dict[str, PropertyAggregate] = {}
    for metric in request.metrics:
        prop = schema.get_property(metric.property)
        if prop is not None and metric.property in properties:
            metrics[metric.property] = property_aggregate(
                prop, metric.ops, properties[metric.property]
            )
    if value is not None and request.group_by:
        gprop = schema.get_property(request.group_by)
        if gprop is not None:
            value = coerce_scalar(gprop.type, value)
    return AggregateGroup(value=value, count=total_count or 0, metrics=metrics)


# --------------------------------------------------------------------------- schema


def property_config(prop: PropertySchema, vectorized: bool) -> Property:
    """Weaviate property for one of ours: free text tokenised by word, labels as fields.

    Field tokenisation makes ``eq`` on labels (product, status...) exact, as in the
    embedded store; vectorized text keeps word tokenisation for BM25.
    """
    tokenization = None
    if prop.type in (PropertyType.TEXT, PropertyType.TEXT_ARRAY):
        tokenization = Tokenization.WORD if vectorized else Tokenization.FIELD
    return Property(
        name=prop.name,
        data_type=TO_WEAVIATE_TYPE[prop.type],
        description=prop.description,
        tokenization=tokenization,
    )


def create_kwargs(
    name: str,
    properties: Sequence[PropertySchema],
    vectorize: Sequence[str],
    *,
    multi_tenant: bool,
    embedder_name: str,
) -> dict[str, Any]:
    """Arguments of ``client.collections.create`` for a Treeflow-made collection."""
    marker = MARKER + json.dumps({"vectorize": list(vectorize), "embedder": embedder_name})
    return {
        "name": name,
        "description": marker,
        "properties": [property_config(p, p.name in vectorize) for p in properties],
        "vector_config": Configure.Vectors.self_provided(
            name=DEFAULT_VECTOR,
            vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
        ),
        "multi_tenancy_config": (
            Configure.multi_tenancy(enabled=True, auto_tenant_creation=True)
            if multi_tenant
            else None
        ),
    }


@dataclass(frozen=True)
class CollectionInfo:
    """What the backend needs to know about a Weaviate collection beyond its schema."""

    schema: CollectionSchema
    client_vectors: bool
    """True when vectors are self-provided (we embed); False with a server vectorizer."""
    target_vector: str | None
    embedder: str | None
    """The embedder recorded by Treeflow at creation, if any."""


def collection_info(config: Any, count: int | None = None) -> CollectionInfo:
    """Read a ``CollectionConfig`` into our schema and vectorisation facts."""
    props = [
        PropertySchema(
            name=p.name,
            type=FROM_WEAVIATE_TYPE.get(_enum_value(p.data_type), PropertyType.OTHER),
            description=p.description,
        )
        for p in config.properties
    ]
    settings: dict[str, Any] = {}
    description = config.description or ""
    if description.startswith(MARKER):
        try:
            settings = json.loads(description[len(MARKER) :])
        except json.JSONDecodeError:
            settings = {}
    vectorize = settings.get("vectorize") or [
        p.name for p in props if p.type in (PropertyType.TEXT, PropertyType.TEXT_ARRAY)
    ]
    named = config.vector_config or {}
    if named:
        vectorizers = [_enum_value(v.vectorizer.vectorizer) for v in named.values()]
        client_vectors = all(v == "none" for v in vectorizers)
        target = next(iter(named)) if len(named) == 1 else None
    else:
        client_vectors = _enum_value(config.vectorizer) in ("none", "None", "")
        target = None
    return CollectionInfo(
        schema=CollectionSchema(
            name=config.name,
            properties=props,
            count=count,
            multi_tenant=bool(config.multi_tenancy_config.enabled),
            vectorized=list(vectorize),
        ),
        client_vectors=client_vectors,
        target_vector=target,
        embedder=settings.get("embedder"),
    )


def _enum_value(value: Any) -> str:
    if value is None:
        return "none"
    return str(getattr(value, "value", value))

"""The retrieval backend interface and its request/result models.

One contract, several stores: the embedded LanceDB store (default, offline) and
Weaviate (production). Both pass ``tests/activities/backends/test_contract.py``.

Semantics every backend honours:

* Collection names are canonical with a capital first letter (Weaviate's rule):
  ``tickets`` and ``Tickets`` name the same collection.
* Every object has a stable reference id (a UUID string). Records upserted with a
  non-UUID key get ``uuid5(REFERENCE_NAMESPACE, key)``, so the same input yields the
  same id in every backend and on every re-import (idempotent, citation-safe).
* ``search`` modes: ``semantic`` (vector), ``keyword`` (BM25), ``hybrid`` (rank fusion
  weighted by ``alpha``: 1 = pure vector, 0 = pure keyword; both stores use
  reciprocal-rank fusion with k=60) and ``filter`` (no ranking).
* ``sort`` in ``filter`` mode orders the whole filtered set before offset/limit; in the
  ranked modes relevance picks the page and ``sort`` reorders that page.
* Aggregations always return groups; without ``group_by`` there is one group whose
  ``value`` is ``None``. Groups are ordered by count (descending), then value.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

REFERENCE_NAMESPACE = uuid.UUID("6f1d3a52-2a8e-5b7c-9f43-6b1f0d7e2c11")
"""Namespace of the uuid5 reference ids derived from record keys."""

MAX_WINDOW = 10_000
"""Largest ``offset + limit`` a search may ask for (Weaviate's default ceiling)."""


class PropertyType(StrEnum):
    """Property types both stores understand."""

    TEXT = "text"
    TEXT_ARRAY = "text_array"
    INT = "int"
    INT_ARRAY = "int_array"
    NUMBER = "number"
    NUMBER_ARRAY = "number_array"
    BOOLEAN = "boolean"
    DATE = "date"
    OTHER = "other"
    """A store type we pass through but cannot filter on (geo, object, blob...)."""


ARRAY_TYPES = frozenset(
    {PropertyType.TEXT_ARRAY, PropertyType.INT_ARRAY, PropertyType.NUMBER_ARRAY}
)
NUMERIC_TYPES = frozenset({PropertyType.INT, PropertyType.NUMBER})

Scalar = str | int | float | bool | datetime
PropertyValue = Scalar | list[str] | list[int] | list[float] | None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PropertySchema(_Model):
    """One property of a collection."""

    name: str
    type: PropertyType
    description: str | None = None


class CollectionSchema(_Model):
    """What ``describe`` knows about a collection."""

    name: str
    properties: list[PropertySchema]
    count: int | None = Field(
        description="Objects in the collection (in the tenant when one was given); "
        "None for a multi-tenant collection described without a tenant."
    )
    multi_tenant: bool = False
    vectorized: list[str] = Field(
        default_factory=list, description="Properties whose text is embedded for search."
    )

    def get_property(self, name: str) -> PropertySchema | None:
        """The named property, or None."""
        return next((p for p in self.properties if p.name == name), None)

    @property
    def property_names(self) -> list[str]:
        """Property names in schema order."""
        return [p.name for p in self.properties]


class Record(_Model):
    """One stored object: its reference id and properties."""

    id: str = Field(description="Stable reference id (UUID string); cite objects by it.")
    properties: dict[str, PropertyValue]


class NewRecord(_Model):
    """A record to upsert; ``key`` becomes the reference id (uuid5 unless a UUID)."""

    key: str | None = Field(
        default=None,
        description="Source key; None derives the id from the properties' content.",
    )
    properties: dict[str, PropertyValue]


# --------------------------------------------------------------------------- filters

Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains_any", "like"]


class Condition(_Model):
    """``property <operator> value``.

    ``in`` takes a list and matches scalar properties equal to one of its values;
    ``contains_any`` takes a list and matches array properties holding any of them
    (on a text property: the text contains any of the values as a word);
    ``like`` takes a pattern with ``*`` (any run) and ``?`` (one character), matched
    case-insensitively against the whole value of a text property.
    """

    property: str
    operator: Operator
    value: Scalar | list[str] | list[int] | list[float]


class AllOf(_Model):
    """All sub-filters match."""

    all_of: Annotated[list[Filter], Field(min_length=1)]


class AnyOf(_Model):
    """At least one sub-filter matches."""

    any_of: Annotated[list[Filter], Field(min_length=1)]


Filter = Condition | AllOf | AnyOf
AllOf.model_rebuild()
AnyOf.model_rebuild()


def where(prop: str, operator: Operator, value: Any) -> Condition:
    """Shorthand for ``Condition(property=prop, operator=operator, value=value)``."""
    return Condition(property=prop, operator=operator, value=value)


def all_of(*filters: Filter) -> AllOf:
    """Shorthand for ``AllOf(all_of=[...])``."""
    return AllOf(all_of=list(filters))


def any_of(*filters: Filter) -> AnyOf:
    """Shorthand for ``AnyOf(any_of=[...])``."""
    return AnyOf(any_of=list(filters))


# --------------------------------------------------------------------------- search

SearchMode = Literal["semantic", "keyword", "hybrid", "filter"]


class SortSpec(_Model):
    """Order by one property; missing values sort last."""

    property: str
    direction: Literal["asc", "desc"] = "asc"


class SearchRequest(_Model):
    """One search over one collection."""

    mode: SearchMode = "hybrid"
    query: str | None = Field(default=None, description="Required unless mode is 'filter'.")
    alpha: float = Field(default=0.5, ge=0.0, le=1.0, description="Hybrid: 1 vector, 0 keyword.")
    filters: Filter | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort: SortSpec | None = None
    properties: list[str] | None = Field(default=None, description="None returns all.")
    tenant: str | None = None

    @model_validator(mode="after")
    def _check(self) -> SearchRequest:
        if self.mode != "filter" and not (self.query and self.query.strip()):
            raise ValueError(f"mode {self.mode!r} needs a non-empty query")
        if self.offset + self.limit > MAX_WINDOW:
            raise ValueError(f"offset + limit must not exceed {MAX_WINDOW}")
        return self


class ScoreDetails(_Model):
    """Where a hit's score came from; fields a mode does not produce stay None."""

    distance: float | None = Field(default=None, description="Cosine distance (semantic).")
    keyword_score: float | None = Field(default=None, description="BM25 score (keyword).")
    vector_rank: int | None = Field(default=None, description="1-based rank (hybrid).")
    keyword_rank: int | None = Field(default=None, description="1-based rank (hybrid).")
    explain: str | None = Field(default=None, description="The store's own explanation.")


class SearchHit(Record):
    """A record found by a search, with its score."""

    score: float | None = Field(
        default=None,
        description="Higher is better: 1 - distance (semantic), BM25 (keyword), fused "
        "rank score (hybrid), None (filter).",
    )
    score_details: ScoreDetails = Field(default_factory=ScoreDetails)


class SearchResult(_Model):
    """Hits of one search, best first (or in ``sort`` order)."""

    collection: str
    mode: SearchMode
    hits: list[SearchHit]


# --------------------------------------------------------------------------- aggregate

MetricOp = Literal["count", "sum", "mean", "min", "max", "top_values"]


class PropertyMetrics(_Model):
    """Metrics over one property.

    ``count`` (non-null values) works on scalar properties; ``sum``/``mean`` on
    int/number; ``min``/``max`` on int/number/date; ``top_values`` on text,
    text_array and boolean.
    """

    property: str
    ops: Annotated[list[MetricOp], Field(min_length=1)]
    top_k: int = Field(default=5, ge=1, le=100)


class AggregateRequest(_Model):
    """Counts and metrics, optionally grouped by one property."""

    metrics: list[PropertyMetrics] = Field(default_factory=list)
    group_by: str | None = None
    filters: Filter | None = None
    group_limit: int = Field(default=100, ge=1, le=1000)
    tenant: str | None = None


QueryRequest = TypeVar("QueryRequest", SearchRequest, AggregateRequest)
"""A request that reads a collection: a search or an aggregate."""


class TopValue(_Model):
    """A value and how many objects hold it."""

    value: str | bool | int | float
    count: int


class PropertyAggregate(_Model):
    """Requested metrics of one property; metrics not asked for stay None."""

    count: int | None = None
    sum: int | float | None = None
    mean: float | None = None
    min: int | float | datetime | None = None
    max: int | float | datetime | None = None
    top_values: list[TopValue] | None = None


class AggregateGroup(_Model):
    """One group (or the whole filtered set when not grouped)."""

    value: str | bool | int | float | None
    count: int
    metrics: dict[str, PropertyAggregate] = Field(default_factory=dict)


class AggregateResult(_Model):
    """Groups ordered by count, then value; ``total`` counts all matching objects."""

    collection: str
    group_by: str | None
    total: int
    groups: list[AggregateGroup]


# --------------------------------------------------------------------------- interface


@runtime_checkable
class Backend(Protocol):
    """A retrieval store. One instance per worker process; safe for concurrent calls."""

    name: str

    async def list_collections(self) -> list[str]:
        """Names of all collections, sorted."""
        ...

    async def describe(self, collection: str, *, tenant: str | None = None) -> CollectionSchema:
        """Properties, types and record count of a collection."""
        ...

    async def create_collection(
        self,
        name: str,
        properties: Sequence[PropertySchema],
        *,
        vectorize: Sequence[str] | None = None,
        multi_tenant: bool = False,
        exist_ok: bool = False,
    ) -> CollectionSchema:
        """Create a collection; ``vectorize`` defaults to every text property."""
        ...

    async def delete_collection(self, name: str) -> None:
        """Drop a collection and its data (missing collections are ignored)."""
        ...

    async def upsert(
        self,
        collection: str,
        records: Sequence[NewRecord | Record],
        *,
        tenant: str | None = None,
    ) -> list[str]:
        """Insert or replace records; returns their reference ids in input order.

        A ``Record`` keeps its id; a ``NewRecord`` gets ``reference_id(key, properties)``.
        """
        ...

    async def get(
        self, collection: str, ids: Sequence[str], *, tenant: str | None = None
    ) -> list[Record]:
        """Records by reference id, in the order asked; unknown ids are left out."""
        ...

    async def search(self, collection: str, request: SearchRequest) -> SearchResult:
        """Semantic, keyword, hybrid or filter-only search."""
        ...

    async def aggregate(self, collection: str, request: AggregateRequest) -> AggregateResult:
        """Counts and metrics, optionally grouped."""
        ...

    async def sample(self, collection: str, n: int, *, tenant: str | None = None) -> list[Record]:
        """Up to ``n`` records of the collection (for previews and preprocessing)."""
        ...

    async def close(self) -> None:
        """Release connections; idempotent."""
        ...


VectorIndexChoice = Literal["auto", "always", "never"]
"""When ``build_indexes`` builds the approximate vector index (auto: large tables only)."""


@runtime_checkable
class IndexingBackend(Protocol):
    """A store whose indexes are built on request (the embedded store; Weaviate indexes
    every write itself). ``treeflow data load`` calls this after its last batch."""

    def deferred_indexes(self) -> AbstractAsyncContextManager[None]:
        """Writes inside skip per-write index maintenance (a bulk load that ends with
        ``build_indexes``)."""
        ...

    async def build_indexes(
        self, collection: str, *, tenant: str | None = None, vector: VectorIndexChoice = "auto"
    ) -> list[str]:
        """Fold every row into the collection's indexes, building missing ones; returns
        the indexed columns."""
        ...

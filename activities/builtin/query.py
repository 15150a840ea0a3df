"""`query`: semantic, keyword, hybrid or filter-only search returning citable objects."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from activities.backends import (
    Backend,
    BackendError,
    Filter,
    PropertyType,
    Record,
    SearchRequest,
    SortSpec,
    UnknownCollection,
    where,
)
from activities.backends.chunking import chunk_collection_name, ensure_chunks
from activities.builtin.collection_profile import (
    METADATA_COLLECTION,
    check_fields,
    filter_properties,
    load_profile,
)
from activities.builtin.retrieval_errors import backend_errors
from activities.builtin.retrieval_pool import RetrievalTool
from activities.sdk import Availability, ToolContext, tool

MAX_OUTPUT_CHARS = 900_000  # under the runtime's 1 MB cap, with room for the envelope


class QueryInput(BaseModel):
    collection: str = Field(description="Collection to search, e.g. SupportTickets.")
    query: str | None = Field(
        default=None, description="What to look for; required unless mode is 'filter'."
    )
    mode: Literal["semantic", "keyword", "hybrid", "filter"] = Field(
        default="hybrid",
        description="semantic (meaning), keyword (BM25), hybrid (both) or filter (no ranking).",
    )
    alpha: float = Field(default=0.5, ge=0, le=1, description="Hybrid: 1 vector, 0 keyword.")
    filters: Filter | None = Field(
        default=None,
        description="{property, operator, value} with eq ne gt gte lt lte in contains_any "
        "like, combined with {all_of: [...]} / {any_of: [...]}.",
    )
    limit: int = Field(default=5, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=9_900)
    sort: SortSpec | None = Field(default=None, description="{property, direction: asc|desc}.")
    properties: list[str] | None = Field(default=None, description="Properties to return.")
    tenant: str | None = Field(default=None, description="Tenant of a multi-tenant collection.")
    chunk: Literal["auto", "never"] = Field(
        default="auto",
        description="auto: long documents are chunked on demand and the best passages returned.",
    )
    chunk_threshold_words: int = Field(default=300, ge=50, le=100_000)
    max_text_chars: int = Field(
        default=2000, ge=100, le=100_000, description="Longer text values are cut."
    )

    @model_validator(mode="after")
    def _needs_query(self) -> QueryInput:
        if self.mode != "filter" and not (self.query and self.query.strip()):
            raise ValueError(f"mode '{self.mode}' needs a query; use mode 'filter' without one")
        return self


class Passage(BaseModel):
    """A chunk of a long document that matches the query."""

    ref: str
    index: int
    text: str
    score: float | None = None


class QueryObject(BaseModel):
    """One object found; cite it by `ref`."""

    ref: str = Field(description="Reference id (UUID) of the object.")
    score: float | None = None
    properties: dict[str, Any]
    passages: list[Passage] = Field(default_factory=list)


class QueryOutput(BaseModel):
    collection: str
    mode: str
    query: str | None
    count: int
    objects: list[QueryObject]
    chunked: bool = False
    truncated: bool = Field(default=False, description="Objects were left out to fit the cap.")


def _cut(value: Any, limit: int) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    return value


def _jsonable(properties: Mapping[str, Any], limit: int) -> dict[str, Any]:
    out = {}
    for key, value in properties.items():
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        out[key] = _cut(value, limit)
    return out


def fit(
    objects: list[QueryObject], budget: int = MAX_OUTPUT_CHARS
) -> tuple[list[QueryObject], bool]:
    """The leading objects whose JSON fits `budget` characters, and whether any were dropped."""
    kept: list[QueryObject] = []
    used = 0
    for obj in objects:
        size = len(obj.model_dump_json())
        if used + size > budget:
            return kept, True
        kept.append(obj)
        used += size
    return kept, False


@tool(name="query", version="1.0.0", timeout=timedelta(seconds=60), tags=("retrieval",))
class Query(RetrievalTool):
    """Search a collection: semantic, keyword or hybrid search on a query, or filter-only
    retrieval with sorting. Returns objects with reference ids to cite. Use it to find
    specific objects (tickets, documents, products) that answer the user's question."""

    async def availability(self, args: Mapping[str, Any], ctx: ToolContext) -> Availability:
        """Unavailable without collections (or when the fixed collection is missing)."""
        return await collection_availability(await self.backend(ctx), args)

    async def run(self, args: QueryInput, ctx: ToolContext) -> QueryOutput:
        backend = await self.backend(ctx)
        with backend_errors():
            names = [*filter_properties(args.filters), *(args.properties or [])]
            if args.sort is not None:
                names.append(args.sort.property)
            await check_fields(backend, args.collection, names, args.tenant)
            schema = await backend.describe(args.collection, tenant=args.tenant)
            request = SearchRequest(
                mode=args.mode,
                query=args.query,
                alpha=args.alpha,
                filters=args.filters,
                limit=args.limit,
                offset=args.offset,
                sort=args.sort,
                properties=args.properties,
                tenant=args.tenant,
            )
            result = await backend.search(schema.name, request)
            passages: dict[str, list[Passage]] = {}
            if args.chunk == "auto" and args.mode != "filter" and result.hits:
                long_text = _long_text_property(schema.vectorized, schema, result.hits, args)
                if long_text is not None:
                    passages = await _passages(backend, schema.name, result.hits, long_text, args)
        objects = [
            QueryObject(
                ref=hit.id,
                score=hit.score,
                properties=_jsonable(hit.properties, args.max_text_chars),
                passages=passages.get(hit.id, []),
            )
            for hit in result.hits
        ]
        kept, truncated = fit(objects)
        return QueryOutput(
            collection=schema.name,
            mode=args.mode,
            query=args.query,
            count=len(kept),
            objects=kept,
            chunked=bool(passages),
            truncated=truncated,
        )


def _long_text_property(
    vectorized: Sequence[str], schema: Any, hits: Sequence[Record], args: QueryInput
) -> str | None:
    """The vectorized text property whose values in these hits exceed the threshold."""
    for name in vectorized:
        prop = schema.get_property(name)
        if prop is None or prop.type is not PropertyType.TEXT:
            continue
        if any(
            len(str(h.properties.get(name) or "").split()) > args.chunk_threshold_words
            for h in hits
        ):
            return str(name)
    return None


async def _passages(
    backend: Backend, collection: str, hits: Sequence[Record], prop: str, args: QueryInput
) -> dict[str, list[Passage]]:
    """Chunk the long hits (once; chunks are kept) and find their best passages."""
    long_ids = [
        h.id
        for h in hits
        if len(str(h.properties.get(prop) or "").split()) > args.chunk_threshold_words
    ]
    chunks = chunk_collection_name(collection)
    done: set[str] = set()
    try:
        existing = await backend.search(
            chunks,
            SearchRequest(
                mode="filter",
                filters=where("parent_id", "in", long_ids),
                properties=["parent_id"],
                limit=1000,
                tenant=args.tenant,
            ),
        )
        done = {str(h.properties.get("parent_id")) for h in existing.hits}
    except UnknownCollection:
        pass
    todo = [h for h in hits if h.id in long_ids and h.id not in done]
    if todo:
        full = await backend.get(collection, [h.id for h in todo], tenant=args.tenant)
        await ensure_chunks(backend, collection, full, prop, tenant=args.tenant)
    found = await backend.search(
        chunks,
        SearchRequest(
            mode=args.mode,
            query=args.query,
            alpha=args.alpha,
            filters=where("parent_id", "in", long_ids),
            limit=min(1000, 3 * len(long_ids)),
            tenant=args.tenant,
        ),
    )
    by_parent: dict[str, list[Passage]] = defaultdict(list)
    for hit in found.hits:
        parent = str(hit.properties.get("parent_id"))
        if len(by_parent[parent]) < 3:
            by_parent[parent].append(
                Passage(
                    ref=hit.id,
                    index=_int(hit.properties.get("chunk_index")),
                    text=_cut(str(hit.properties.get("chunk") or ""), args.max_text_chars),
                    score=hit.score,
                )
            )
    return dict(by_parent)


async def collection_availability(backend: Backend, args: Mapping[str, Any]) -> Availability:
    """Shared availability check of `query` and `aggregate` (Elysia's is_tool_available)."""
    with backend_errors():
        names = [n for n in await backend.list_collections() if n != METADATA_COLLECTION]
        if not names:
            return Availability(available=False, reason="the store holds no collections")
        wanted = args.get("collection")
        if isinstance(wanted, str) and wanted[:1].upper() + wanted[1:] not in names:
            return Availability(
                available=False,
                reason=f"collection {wanted!r} does not exist (available: {', '.join(names)})",
            )
        targets = [wanted] if isinstance(wanted, str) else names
        hints = []
        for name in targets[:5]:
            try:
                profile = await load_profile(backend, name)
                if profile is not None:
                    hints.append(profile.for_agent())
                    continue
                schema = await backend.describe(name)
            except BackendError:
                continue  # e.g. a multi-tenant collection: no schema without a tenant
            fields = ", ".join(f"{p.name} ({p.type})" for p in schema.properties)
            hints.append(f"Collection {schema.name} ({schema.count} objects): {fields}")
        return Availability(hints="\n".join(hints)[:6000])


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0

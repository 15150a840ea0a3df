"""Weaviate backend (weaviate-client v4, async): the production path for Elysia users.

One ``WeaviateAsyncClient`` per backend object, i.e. per worker process: created and
connected lazily on first use (guarded by a lock, bounded by timeouts), reused by
every call, closed by ``close()``. Credentials never sit in the settings: the
backend gets ``api_key_ref`` / ``header_refs`` and a ``resolve_secret`` callable and
resolves them once, when it connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from activities.backends.base import (
    AggregateRequest,
    AggregateResult,
    CollectionSchema,
    NewRecord,
    PropertySchema,
    QueryRequest,
    Record,
    SearchRequest,
    SearchResult,
)
from activities.backends.embeddings import Embedder, HashingEmbedder, embedding_text
from activities.backends.errors import (
    BackendClosed,
    BackendError,
    BackendUnavailable,
    CollectionExists,
    EmbedderMismatch,
    InvalidRequest,
    PermissionDenied,
    QueryFailed,
    UnknownCollection,
    UnknownTenant,
)
from activities.backends.validation import (
    canonical_collection_name,
    check_aggregate,
    check_new_collection,
    check_reference_id,
    check_search,
    check_tenant,
    coerce_properties,
    record_id,
    sort_hits,
)
from activities.backends.weaviate_query import (
    CollectionInfo,
    build_aggregate,
    build_get,
    build_search,
    clean_properties,
    collection_info,
    create_kwargs,
    group_from,
    hit_from_object,
)
from activities.backends.weaviate_settings import SecretResolver, WeaviateSettings
from foundation.telemetry.tracing import outgoing_call

with warnings.catch_warnings(record=True):
    # authlib (a weaviate-client dependency) forces an "always" filter for its own
    # httpx deprecation warning; recording swallows it, nothing for us to act on.
    import weaviate
    from weaviate import exceptions as wexc
    from weaviate.classes.data import DataObject
    from weaviate.classes.init import AdditionalConfig, Auth, Timeout
    from weaviate.classes.tenants import Tenant

SCHEMA_TTL_SECONDS = 30.0


@dataclass(frozen=True)
class ConnectCall:
    """Which ``weaviate.use_async_with_*`` helper to call, with which arguments."""

    helper: Literal[
        "use_async_with_local", "use_async_with_weaviate_cloud", "use_async_with_custom"
    ]
    kwargs: dict[str, Any]


def connect_call(
    settings: WeaviateSettings, api_key: str | None, headers: dict[str, str]
) -> ConnectCall:
    """The client construction for the settings (pure; no network)."""
    common: dict[str, Any] = {
        "headers": headers or None,
        "additional_config": AdditionalConfig(
            timeout=Timeout(
                init=settings.init_timeout,
                query=settings.query_timeout,
                insert=settings.insert_timeout,
            )
        ),
        "skip_init_checks": settings.skip_init_checks,
    }
    auth = Auth.api_key(api_key) if api_key else None
    if settings.mode == "cloud":
        if not settings.cluster_url or auth is None:
            raise InvalidRequest("Weaviate Cloud needs cluster_url and api_key_ref")
        return ConnectCall(
            "use_async_with_weaviate_cloud",
            {"cluster_url": settings.cluster_url, "auth_credentials": auth, **common},
        )
    if settings.mode == "custom":
        return ConnectCall(
            "use_async_with_custom",
            {
                "http_host": settings.http_host,
                "http_port": settings.http_port,
                "http_secure": settings.http_secure,
                "grpc_host": settings.grpc_host or settings.http_host,
                "grpc_port": settings.grpc_port,
                "grpc_secure": settings.grpc_secure,
                "auth_credentials": auth,
                **common,
            },
        )
    return ConnectCall(
        "use_async_with_local",
        {
            "host": settings.http_host,
            "port": settings.http_port,
            "grpc_port": settings.grpc_port,
            "auth_credentials": auth,
            **common,
        },
    )


def create_client(settings: WeaviateSettings, api_key: str | None, headers: dict[str, str]) -> Any:
    """Build (not connect) a ``WeaviateAsyncClient``."""
    call = connect_call(settings, api_key, headers)
    return getattr(weaviate, call.helper)(**call.kwargs)


ClientFactory = Callable[[WeaviateSettings, str | None, dict[str, str]], Any]

_RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}
_TRANSIENT_MARKERS = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "connection")


def map_error(exc: BaseException) -> BackendError:
    """Our typed error for a weaviate-client exception."""
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, wexc.WeaviateClosedClientError):
        return BackendClosed(str(exc))
    if isinstance(
        exc,
        wexc.WeaviateConnectionError
        | wexc.WeaviateTimeoutError
        | wexc.WeaviateStartUpError
        | wexc.WeaviateGRPCUnavailableError
        | wexc.WeaviateRetryError
        | TimeoutError
        | OSError,
    ):
        return BackendUnavailable(f"Weaviate unavailable: {exc}")
    if isinstance(exc, wexc.InsufficientPermissionsError | wexc.AuthenticationFailedError):
        return PermissionDenied(f"Weaviate refused the request: {exc}")
    if isinstance(exc, wexc.UnexpectedStatusCodeError):
        if exc.status_code in _RETRYABLE_STATUS:
            return BackendUnavailable(f"Weaviate returned {exc.status_code}: {exc.message}")
        if exc.status_code in (401, 403):
            return PermissionDenied(f"Weaviate returned {exc.status_code}: {exc.message}")
        return QueryFailed(f"Weaviate returned {exc.status_code}: {exc.message}")
    if isinstance(exc, wexc.WeaviateQueryError | wexc.WeaviateBaseError):
        text = str(exc)
        if any(marker in text for marker in _TRANSIENT_MARKERS):
            return BackendUnavailable(f"Weaviate query failed transiently: {text}")
        return QueryFailed(f"Weaviate query failed: {text}")
    return QueryFailed(f"Weaviate call failed: {type(exc).__name__}: {exc}")


class WeaviateBackend:
    """Retrieval over a Weaviate cluster; one instance (one client) per worker process."""

    name = "weaviate"

    def __init__(
        self,
        settings: WeaviateSettings,
        *,
        resolve_secret: SecretResolver | None = None,
        embedder: Embedder | None = None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self._settings = settings
        self._resolve_secret = resolve_secret
        self._embedder: Embedder = embedder or HashingEmbedder()
        self._factory: ClientFactory = client_factory or create_client
        self._client: Any = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._info: dict[str, tuple[float, CollectionInfo]] = {}
        self._tenants: dict[str, set[str]] = {}

    # ------------------------------------------------------------------ connection

    async def _secret(self, ref: str) -> str:
        if self._resolve_secret is None:
            raise InvalidRequest(f"Secret reference {ref!r} given but no resolve_secret")
        return await self._resolve_secret(ref)

    async def client(self) -> Any:
        """The connected client, created on first use and then reused."""
        if self._closed:
            raise BackendClosed("The Weaviate backend was closed")
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._closed:
                raise BackendClosed("The Weaviate backend was closed")
            if self._client is None:
                s = self._settings
                api_key = await self._secret(s.api_key_ref) if s.api_key_ref else None
                headers = {h: await self._secret(ref) for h, ref in s.header_refs.items()}
                client = self._factory(s, api_key, headers)
                try:
                    await asyncio.wait_for(client.connect(), timeout=s.connect_timeout)
                except BaseException as exc:
                    with contextlib.suppress(Exception):  # best effort after a failed connect
                        await client.close()
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    if isinstance(exc, TimeoutError):
                        raise BackendUnavailable(
                            f"Weaviate did not answer within {s.connect_timeout}s"
                        ) from exc
                    raise map_error(exc) from exc
                self._client = client
        return self._client

    @asynccontextmanager
    async def _calls(self) -> AsyncIterator[Any]:
        client = await self.client()
        try:
            yield client
        except BackendError:
            raise
        except Exception as exc:
            raise map_error(exc) from exc

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            await client.close()

    # ------------------------------------------------------------------ schema

    async def _collection_info(self, collection: str, *, fresh: bool = False) -> CollectionInfo:
        name = canonical_collection_name(collection)
        cached = self._info.get(name)
        if cached and not fresh and time.monotonic() - cached[0] < SCHEMA_TTL_SECONDS:
            return cached[1]
        async with self._calls() as client:
            if not await client.collections.exists(name):
                raise UnknownCollection(name, await self.list_collections())
            config = await client.collections.use(name).config.get()
        info = collection_info(config)
        self._info[name] = (time.monotonic(), info)
        return info

    def _handle(self, client: Any, name: str, tenant: str | None) -> Any:
        handle = client.collections.use(name)
        return handle.with_tenant(tenant) if tenant is not None else handle

    def _check_embedder(self, info: CollectionInfo) -> None:
        if info.client_vectors and info.embedder and info.embedder != self._embedder.name:
            raise EmbedderMismatch(info.schema.name, info.embedder, self._embedder.name)

    async def list_collections(self) -> list[str]:
        async with self._calls() as client:
            listed = await client.collections.list_all(simple=True)
        return sorted(listed)

    async def describe(self, collection: str, *, tenant: str | None = None) -> CollectionSchema:
        info = await self._collection_info(collection, fresh=True)
        schema = info.schema
        tenant = check_tenant(schema, tenant) if tenant is not None else None
        if schema.multi_tenant and tenant is None:
            return schema
        await self._require_tenant(schema.name, tenant)
        async with self._calls() as client:
            result = await self._handle(client, schema.name, tenant).aggregate.over_all(
                total_count=True
            )
        return schema.model_copy(update={"count": result.total_count or 0})

    async def create_collection(
        self,
        name: str,
        properties: Sequence[PropertySchema],
        *,
        vectorize: Sequence[str] | None = None,
        multi_tenant: bool = False,
        exist_ok: bool = False,
    ) -> CollectionSchema:
        name = canonical_collection_name(name)
        async with self._calls() as client:
            exists = await client.collections.exists(name)
        if exists:
            if exist_ok:
                return await self.describe(name)
            raise CollectionExists(name)
        chosen = check_new_collection(properties, vectorize)
        kwargs = create_kwargs(
            name, properties, chosen, multi_tenant=multi_tenant, embedder_name=self._embedder.name
        )
        async with self._calls() as client:
            await client.collections.create(**kwargs)
        self._info.pop(name, None)
        return CollectionSchema(
            name=name,
            properties=list(properties),
            count=None if multi_tenant else 0,
            multi_tenant=multi_tenant,
            vectorized=chosen,
        )

    async def delete_collection(self, name: str) -> None:
        name = canonical_collection_name(name)
        async with self._calls() as client:
            await client.collections.delete(name)
        self._info.pop(name, None)
        self._tenants.pop(name, None)

    # ------------------------------------------------------------------ writes

    async def _require_tenant(self, name: str, tenant: str | None, *, create: bool = False) -> None:
        """Check (once per process and tenant) that the tenant exists; create it on writes."""
        if tenant is None:
            return
        known = self._tenants.setdefault(name, set())
        if tenant in known:
            return
        async with self._calls() as client:
            handle = client.collections.use(name)
            existing = await handle.tenants.get()
            if tenant not in existing:
                if not create:
                    raise UnknownTenant(name, tenant)
                await handle.tenants.create([Tenant(name=tenant)])
        known.add(tenant)

    async def upsert(
        self,
        collection: str,
        records: Sequence[NewRecord | Record],
        *,
        tenant: str | None = None,
    ) -> list[str]:
        info = await self._collection_info(collection)
        schema = info.schema
        tenant = check_tenant(schema, tenant)
        if info.client_vectors:
            self._check_embedder(info)
        ids = [record_id(r) for r in records]
        props = [coerce_properties(schema, r.properties) for r in records]
        vectors: list[list[float]] | None = None
        if info.client_vectors:
            texts = [embedding_text(p, schema.vectorized) for p in props]
            vectors = await self._embedder.embed(texts) if texts else []
        objects = [
            DataObject(
                properties={k: v for k, v in p.items() if v is not None},
                uuid=ref,
                vector=(
                    None
                    if vectors is None
                    else ({info.target_vector: vectors[i]} if info.target_vector else vectors[i])
                ),
            )
            for i, (ref, p) in enumerate(zip(ids, props, strict=True))
        ]
        await self._require_tenant(schema.name, tenant, create=True)
        async with self._calls() as client:
            handle = self._handle(client, schema.name, tenant)
            size = self._settings.insert_batch_size
            for start in range(0, len(objects), size):
                result = await handle.data.insert_many(objects[start : start + size])
                if result.has_errors:
                    first = next(iter(result.errors.values()))
                    raise QueryFailed(
                        f"Weaviate rejected {len(result.errors)} object(s), e.g.: {first.message}"
                    )
        return ids

    # ------------------------------------------------------------------ reads

    async def get(
        self, collection: str, ids: Sequence[str], *, tenant: str | None = None
    ) -> list[Record]:
        info = await self._collection_info(collection)
        tenant = check_tenant(info.schema, tenant)
        await self._require_tenant(info.schema.name, tenant)
        refs = [check_reference_id(i) for i in ids]
        if not refs:
            return []
        call = build_get(refs)
        async with self._calls() as client:
            handle = self._handle(client, info.schema.name, tenant)
            result = await getattr(handle.query, call.method)(**call.kwargs)
        by_id = {
            str(o.uuid): Record(id=str(o.uuid), properties=clean_properties(o.properties))
            for o in result.objects
        }
        return [by_id[r] for r in refs if r in by_id]

    async def sample(self, collection: str, n: int, *, tenant: str | None = None) -> list[Record]:
        info = await self._collection_info(collection)
        tenant = check_tenant(info.schema, tenant)
        await self._require_tenant(info.schema.name, tenant)
        if n <= 0:
            return []
        async with self._calls() as client:
            handle = self._handle(client, info.schema.name, tenant)
            result = await handle.query.fetch_objects(limit=n)
        return [
            Record(id=str(o.uuid), properties=clean_properties(o.properties))
            for o in result.objects
        ]

    async def _query(
        self,
        collection: str,
        request: QueryRequest,
        check: Callable[[CollectionSchema, QueryRequest], QueryRequest],
    ) -> tuple[CollectionInfo, str | None, QueryRequest]:
        """What a search or aggregate reads: the collection, its (existing) tenant and
        the checked request."""
        info = await self._collection_info(collection)
        tenant = check_tenant(info.schema, request.tenant)
        await self._require_tenant(info.schema.name, tenant)
        return info, tenant, check(info.schema, request)

    async def search(self, collection: str, request: SearchRequest) -> SearchResult:
        info, tenant, request = await self._query(collection, request, check_search)
        schema = info.schema
        vector: list[float] | None = None
        if request.mode in ("semantic", "hybrid") and info.client_vectors:
            self._check_embedder(info)
            vector = (await self._embedder.embed([request.query or ""]))[0]
        call = build_search(request, vector=vector, target_vector=info.target_vector)
        async with self._calls() as client:
            handle = self._handle(client, schema.name, tenant)
            with outgoing_call("weaviate.query", **_span(schema.name, call.method)):
                result = await getattr(handle.query, call.method)(**call.kwargs)
        hits = [hit_from_object(o, request.mode) for o in result.objects]
        if request.mode != "filter" and request.sort is not None:
            hits = sort_hits(hits, request.sort)
        return SearchResult(collection=schema.name, mode=request.mode, hits=hits)

    async def aggregate(self, collection: str, request: AggregateRequest) -> AggregateResult:
        info, tenant, request = await self._query(collection, request, check_aggregate)
        schema = info.schema
        call = build_aggregate(schema, request)
        async with (
            self._calls() as client,
            _aggregate_span(schema.name),
        ):
            handle = self._handle(client, schema.name, tenant)
            if request.group_by is None:
                result = await handle.aggregate.over_all(**call.kwargs)
                groups = [group_from(schema, request, None, result.total_count, result.properties)]
                total = result.total_count or 0
            else:
                grouped, overall = await asyncio.gather(
                    handle.aggregate.over_all(**call.kwargs),
                    handle.aggregate.over_all(filters=call.kwargs["filters"], total_count=True),
                )
                groups = [
                    group_from(schema, request, g.grouped_by.value, g.total_count, g.properties)
                    for g in grouped.groups
                    if g.grouped_by.value is not None
                ]
                total = overall.total_count or 0
        groups.sort(key=lambda g: (-g.count, str(g.value)))
        return AggregateResult(
            collection=schema.name,
            group_by=request.group_by,
            total=total,
            groups=groups[: request.group_limit],
        )


def _span(collection: str, method: str) -> dict[str, str]:
    """Attributes of a Weaviate call span (the tool's identity is added by the runtime)."""
    return {"db.system": "weaviate", "db.collection.name": collection, "db.operation": method}


@asynccontextmanager
async def _aggregate_span(collection: str) -> AsyncIterator[None]:
    """`outgoing_call` for an `async with` block."""
    with outgoing_call("weaviate.aggregate", **_span(collection, "aggregate")):
        yield

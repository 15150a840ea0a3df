"""One retrieval backend per worker process, shared by the retrieval tools.

`query`, `aggregate`, `preprocess_collection` and `cited_summarize` are class tools:
their `startup` joins the process-wide `BACKENDS` pool and their `shutdown` leaves
it; the last one out closes every backend. A backend is opened on first use for
its configuration (tool config `retrieval`, default: the embedded store in
`.treeflow/retrieval`), so no client is ever created per call. When the Weaviate
settings hold secret references, credentials belong to a tenant: each tenant then
gets its own client, still reused by every later call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from activities.backends import Backend, BackendConfig, EmbeddedConfig, WeaviateConfig, open_backend
from activities.errors import invalid_config
from activities.llm import LLMProvider, ProviderPool, llm_config
from activities.sdk import ToolContext

_CONFIG: TypeAdapter[EmbeddedConfig | WeaviateConfig] = TypeAdapter(BackendConfig)


def retrieval_config(config: Mapping[str, Any]) -> EmbeddedConfig | WeaviateConfig:
    """The `retrieval` section of a tool's config (default: embedded store)."""
    raw = config.get("retrieval") or {"kind": "embedded"}
    try:
        return _CONFIG.validate_python(raw)
    except ValidationError as exc:
        raise invalid_config("retrieval", exc) from None


def _needs_tenant_credentials(config: EmbeddedConfig | WeaviateConfig) -> bool:
    return isinstance(config, WeaviateConfig) and bool(
        config.settings.api_key_ref or config.settings.header_refs
    )


class BackendPool:
    """Backends by configuration (and tenant, for tenant credentials), reference-counted."""

    def __init__(self) -> None:
        self._backends: dict[str, Backend] = {}
        self._users = 0
        self._lock = asyncio.Lock()

    def join(self) -> None:
        """A tool starts using the pool (call from `startup`)."""
        self._users += 1

    async def leave(self) -> None:
        """A tool stops using the pool; the last one closes every backend."""
        self._users = max(0, self._users - 1)
        if self._users == 0:
            backends = list(self._backends.values())
            self._backends.clear()
            for backend in backends:
                await backend.close()

    async def backend(self, ctx: ToolContext) -> Backend:
        """The backend for the calling tool's `retrieval` config (opened on first use)."""
        config = retrieval_config(ctx.config)
        key = config.model_dump_json()
        if _needs_tenant_credentials(config):
            key += f"|tenant={ctx.info.tenant_id}"
        backend = self._backends.get(key)
        if backend is not None:
            return backend
        async with self._lock:
            backend = self._backends.get(key)
            if backend is None:
                tenant = ctx.info.tenant_id
                secrets = ctx.secrets

                async def resolve(ref: str) -> str:
                    return await secrets(tenant, ref)

                backend = open_backend(config, resolve_secret=resolve)
                self._backends[key] = backend
        return backend

    @property
    def open_backends(self) -> int:
        return len(self._backends)


BACKENDS = BackendPool()
"""The worker process's pool. It holds connections only, never user data."""


class RetrievalTool:
    """Base of the class tools that use a retrieval backend."""

    async def startup(self, config: Mapping[str, Any]) -> None:
        retrieval_config(config)  # fail at worker start on a bad config, not at the first call
        BACKENDS.join()

    async def shutdown(self) -> None:
        await BACKENDS.leave()

    async def backend(self, ctx: ToolContext) -> Backend:
        return await BACKENDS.backend(ctx)


class ModelRetrievalTool(RetrievalTool):
    """A retrieval tool that may also ask a language model (one provider pool per tool)."""

    def __init__(self) -> None:
        self._models = ProviderPool()

    async def shutdown(self) -> None:
        await self._models.close()
        await super().shutdown()

    async def model(self, ctx: ToolContext) -> LLMProvider | None:
        """The calling tenant's provider for the tool's `llm` config (None: no model)."""
        return await self._models.get(llm_config(ctx.config), ctx)

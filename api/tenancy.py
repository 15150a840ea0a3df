"""Per-tenant settings (allowed tools, quotas, rate limits, default models) and their cache.

Runs are started against these settings, so the run starter reads them through
:class:`TenantSettingsCache` (one database read per tenant per few seconds).
"""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa
from cachetools import LRUCache, TTLCache
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db.models import Tenant
from api.singleflight import SingleFlight

TENANT_CACHE_SIZE = 10_000
"""Tenants whose settings an API replica keeps in memory."""
ToolName = Field(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")


class Quotas(BaseModel):
    """Run quotas; enforced when runs start."""

    model_config = ConfigDict(extra="forbid")

    max_concurrent_runs: int = Field(default=10, ge=0, le=100_000)
    runs_per_day: int = Field(default=1_000, ge=0, le=10_000_000)


class RateLimits(BaseModel):
    """API request limits for the whole tenant (on top of per-caller and per-IP limits)."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int = Field(default=6_000, ge=1, le=10_000_000)


class DefaultModels(BaseModel):
    """Model names decisions use unless a tree says otherwise (None = platform default)."""

    model_config = ConfigDict(extra="forbid")

    base: str | None = Field(default=None, max_length=200, pattern=r"^[\x21-\x7e]+$")
    complex: str | None = Field(default=None, max_length=200, pattern=r"^[\x21-\x7e]+$")


class TenantSettings(BaseModel):
    """Everything configurable per tenant."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "allowed_tools": ["query", "aggregate", "summarize"],
                    "quotas": {"max_concurrent_runs": 20, "runs_per_day": 5000},
                    "rate_limits": {"requests_per_minute": 1200},
                    "default_models": {"base": "gpt-4o-mini", "complex": "gpt-4o"},
                }
            ]
        },
    )

    allowed_tools: list[str] | None = Field(
        default=None, max_length=500, description="Tool names runs may use; null allows all."
    )
    quotas: Quotas = Field(default_factory=Quotas)
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    default_models: DefaultModels = Field(default_factory=DefaultModels)

    def allows_tool(self, name: str) -> bool:
        """Whether runs of this tenant may use tool ``name``."""
        return self.allowed_tools is None or name in self.allowed_tools


class TenantSettingsCache:
    """In-process cache of tenant settings; None means no such tenant.

    Entries are fresh for ``ttl_seconds``. A stale entry is still served while one
    background read refreshes it, and concurrent misses share one read, so a hot tenant
    never sends a burst of identical queries to the database.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_seconds: float = 5.0):
        self._sessions = sessions
        self._known: LRUCache[uuid.UUID, TenantSettings | None] = LRUCache(TENANT_CACHE_SIZE)
        self._fresh: TTLCache[uuid.UUID, bool] = TTLCache(TENANT_CACHE_SIZE, ttl_seconds)
        self._loading: SingleFlight[uuid.UUID, TenantSettings | None] = SingleFlight()
        self._invalidations = 0
        """Counts `invalidate` calls: a read that overlapped one is not remembered."""

    async def get(self, tenant_id: uuid.UUID) -> TenantSettings | None:
        """Settings of ``tenant_id`` (at most a few seconds old), or None if it does not exist."""
        if tenant_id in self._known:
            if tenant_id not in self._fresh:
                self._load(tenant_id)  # refresh in the background, serve the known value
            return self._known[tenant_id]
        return await asyncio.shield(self._load(tenant_id))

    def _load(self, tenant_id: uuid.UUID) -> asyncio.Task[TenantSettings | None]:
        return self._loading.task(tenant_id, lambda: self._read(tenant_id))

    async def _read(self, tenant_id: uuid.UUID) -> TenantSettings | None:
        invalidations = self._invalidations
        async with self._sessions() as session:
            raw = await session.scalar(sa.select(Tenant.settings).where(Tenant.id == tenant_id))
        value = None if raw is None else TenantSettings.model_validate(raw)
        if invalidations == self._invalidations:  # else it may predate the change
            self._known[tenant_id] = value
            self._fresh[tenant_id] = True
        return value

    def invalidate(self, tenant_id: uuid.UUID) -> None:
        """Forget a tenant's cached settings (after this replica changed them): a read
        in flight meanwhile is neither joined by later callers nor remembered."""
        self._invalidations += 1
        self._known.pop(tenant_id, None)
        self._fresh.pop(tenant_id, None)
        self._loading.forget(tenant_id)

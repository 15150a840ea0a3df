"""Per-tenant settings (allowed tools, quotas, rate limits, default models) and their cache.

Runs are started against these settings, so the run starter reads them through
:class:`TenantSettingsCache` (one database read per tenant per few seconds).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db.models import Tenant

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

    Entries live ``ttl_seconds``. An expired entry is still served while one background
    read refreshes it, and concurrent misses share one read, so a hot tenant never sends
    a burst of identical queries to the database.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_seconds: float = 5.0):
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._entries: dict[uuid.UUID, tuple[float, TenantSettings | None]] = {}
        self._loading: dict[uuid.UUID, asyncio.Task[TenantSettings | None]] = {}

    async def get(self, tenant_id: uuid.UUID) -> TenantSettings | None:
        """Settings of ``tenant_id`` (at most a few seconds old), or None if it does not exist."""
        hit = self._entries.get(tenant_id)
        if hit is not None:
            if hit[0] <= time.monotonic():
                self._load(tenant_id)  # refresh in the background, serve the known value
            return hit[1]
        return await asyncio.shield(self._load(tenant_id))

    def _load(self, tenant_id: uuid.UUID) -> asyncio.Task[TenantSettings | None]:
        task = self._loading.get(tenant_id)
        if task is None:
            task = asyncio.create_task(self._read(tenant_id))
            self._loading[tenant_id] = task
        return task

    async def _read(self, tenant_id: uuid.UUID) -> TenantSettings | None:
        try:
            async with self._sessions() as session:
                raw = await session.scalar(sa.select(Tenant.settings).where(Tenant.id == tenant_id))
            value = None if raw is None else TenantSettings.model_validate(raw)
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[tenant_id] = (time.monotonic() + self._ttl, value)
            return value
        finally:
            self._loading.pop(tenant_id, None)

    def invalidate(self, tenant_id: uuid.UUID) -> None:
        """Forget a tenant's cached settings (after this replica changed them)."""
        self._entries.pop(tenant_id, None)

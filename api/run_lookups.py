"""What a run start reads, mostly from memory: tree plans and per-tenant run counts.

Both are `cachetools` caches. Tree versions are immutable, so a parsed plan is kept
until evicted (LRU); which version a name means by default lives `TREE_CACHE_SECONDS`.
Run counts feed soft quotas: read from the slow source at most every few seconds and
incremented locally in between (a few runs of slack).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from cachetools import LRUCache, TTLCache
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.db.models import RunRecord, TreeVersionRecord
from api.problems import not_found
from api.trees import compiled_of, get_tree
from workflows.compiled import CompiledTree
from workflows.workflow import WORKFLOW_NAME

PLAN_CACHE_SIZE = 1_000
"""Parsed tree versions kept per API replica."""
TREE_CACHE_SIZE = 10_000
"""(tenant, tree name) default versions kept per API replica."""
TREE_CACHE_SECONDS = 1.0
"""How long a replica believes a tree's default (published, else latest) version."""
COUNT_CACHE_SIZE = 10_000
"""Tenants whose run counts a replica keeps."""
OPEN_RUNS_SECONDS = 2.0
"""How long a counted number of open runs is trusted (plus local increments)."""
RUNS_TODAY_SECONDS = 5.0
"""How long a counted number of today's runs is trusted (plus local increments)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """The tree version a run uses."""

    tree_id: uuid.UUID
    number: int
    compiled: CompiledTree


class TreePlans:
    """Tree versions by (tenant, name, version), mostly from memory."""

    def __init__(self) -> None:
        self._defaults: TTLCache[tuple[uuid.UUID, str], tuple[uuid.UUID, int]] = TTLCache(
            maxsize=TREE_CACHE_SIZE, ttl=TREE_CACHE_SECONDS
        )
        self._plans: LRUCache[tuple[uuid.UUID, int], CompiledTree] = LRUCache(
            maxsize=PLAN_CACHE_SIZE
        )

    async def resolve(
        self, session: AsyncSession, tenant_id: uuid.UUID, name: str, version: int | None
    ) -> Plan:
        """Version `version` of the tree, or its default; 404 when either is missing."""
        hit = self._defaults.get((tenant_id, name))
        if hit is None:
            tree = await get_tree(session, tenant_id, name)
            hit = (tree.id, tree.published_version or tree.latest_version)
            self._defaults[(tenant_id, name)] = hit
        tree_id, default = hit
        number = version or default
        compiled = self._plans.get((tree_id, number))
        if compiled is None:
            record = await session.get(TreeVersionRecord, (tree_id, number))
            if record is None:
                raise not_found("tree version")
            compiled = compiled_of(record)
            self._plans[(tree_id, number)] = compiled
        return Plan(tree_id, number, compiled)

    def forget(self, tenant_id: uuid.UUID, name: str) -> None:
        """Drop the remembered default version (after a publish, a new version or a delete)."""
        self._defaults.pop((tenant_id, name), None)


class _Count:
    """A mutable count, so a local increment keeps the entry's original expiry."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


class RunCounts:
    """Per-tenant open runs (from Temporal) and runs started today (from the database)."""

    def __init__(self) -> None:
        self._open: TTLCache[uuid.UUID, _Count] = TTLCache(COUNT_CACHE_SIZE, OPEN_RUNS_SECONDS)
        self._today: TTLCache[uuid.UUID, _Count] = TTLCache(COUNT_CACHE_SIZE, RUNS_TODAY_SECONDS)

    async def open_runs(self, client: Client, tenant_id: uuid.UUID) -> int:
        """Open runs of the tenant, at most `OPEN_RUNS_SECONDS` old."""
        hit = self._open.get(tenant_id)
        if hit is None:
            counted = await client.count_workflows(
                f"TenantId = '{tenant_id}' AND ExecutionStatus = 'Running' "
                f"AND WorkflowType = '{WORKFLOW_NAME}'"  # idle conversations are not runs
            )
            hit = self._open[tenant_id] = _Count(counted.count)
        return hit.value

    async def runs_today(self, session: AsyncSession, tenant_id: uuid.UUID) -> int:
        """Runs the tenant started since midnight UTC, at most `RUNS_TODAY_SECONDS` old."""
        hit = self._today.get(tenant_id)
        if hit is None:
            counted = await session.scalar(
                sa.select(sa.func.count(RunRecord.id)).where(
                    RunRecord.tenant_id == tenant_id, RunRecord.created_at >= midnight()
                )
            )
            hit = self._today[tenant_id] = _Count(int(counted or 0))
        return hit.value

    def started(self, tenant_id: uuid.UUID) -> None:
        """Count a run this replica just started (until the next read from the source)."""
        for cache in (self._open, self._today):
            hit = cache.get(tenant_id)
            if hit is not None:
                hit.value += 1


def midnight() -> datetime:
    """Today's start, UTC (the daily quota's window)."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def seconds_to_midnight() -> float:
    """Seconds until the daily quota resets."""
    return (midnight() + timedelta(days=1) - datetime.now(UTC)).total_seconds()

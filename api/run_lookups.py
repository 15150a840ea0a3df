"""What a run start reads, mostly from memory: tree plans and per-tenant run counts.

Both are `cachetools` caches. Tree versions are immutable, so a parsed plan is kept
until evicted (LRU); which version a name means by default lives `TREE_CACHE_SECONDS`.
Run counts feed soft quotas: read from the slow source at most every few seconds and
incremented locally in between (a few runs of slack).

A miss is read once however many starts arrive meanwhile (`api.singleflight`): at a few
hundred concurrent starts an expired entry otherwise sent one count to Temporal's
visibility store, or one query to the database, per waiting start. A tree read made on a
session with no transaction yet ends that transaction, so the embedded SQLite's one
connection is not held while the start goes on to wait for Temporal.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cachetools import LRUCache, TTLCache
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.db.models import RunRecord, TreeVersionRecord
from api.problems import not_found
from api.singleflight import SharedRead, SingleFlight
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


_Default = tuple[uuid.UUID, int]
"""A tree's id and the number of its default version."""


@dataclass(frozen=True, slots=True)
class Plan:
    """The tree version a run uses."""

    tree_id: uuid.UUID
    number: int
    compiled: CompiledTree


@asynccontextmanager
async def _own_read(session: AsyncSession) -> AsyncIterator[None]:
    """Reads on a session with no transaction end theirs when done (a session with no
    transaction has nothing pending, so the commit only gives the connection back)."""
    began = not session.in_transaction()
    yield
    if began and session.in_transaction():
        await session.commit()


class TreePlans:
    """Tree versions by (tenant, name, version), mostly from memory."""

    def __init__(self) -> None:
        self._defaults: TTLCache[tuple[uuid.UUID, str], _Default] = TTLCache(
            maxsize=TREE_CACHE_SIZE, ttl=TREE_CACHE_SECONDS
        )
        self._plans: LRUCache[tuple[uuid.UUID, int], CompiledTree] = LRUCache(
            maxsize=PLAN_CACHE_SIZE
        )
        self._default_reads: SharedRead[tuple[uuid.UUID, str], _Default] = SharedRead()
        self._plan_reads: SharedRead[tuple[uuid.UUID, int], CompiledTree] = SharedRead()
        self._forgotten = 0
        """Counts `forget` calls: a default read that overlapped one is not remembered."""

    async def resolve(
        self, session: AsyncSession, tenant_id: uuid.UUID, name: str, version: int | None
    ) -> Plan:
        """Version `version` of the tree, or its default; 404 when either is missing."""
        key = (tenant_id, name)
        hit = self._defaults.get(key)
        if hit is None:
            hit = await self._default_reads.get(key, lambda: self._read_default(session, key))
        tree_id, default = hit
        number = version or default
        compiled = self._plans.get((tree_id, number))
        if compiled is None:
            compiled = await self._plan_reads.get(
                (tree_id, number), lambda: self._read_plan(session, tree_id, number)
            )
        return Plan(tree_id, number, compiled)

    async def _read_default(self, session: AsyncSession, key: tuple[uuid.UUID, str]) -> _Default:
        forgotten = self._forgotten
        async with _own_read(session):
            tree = await get_tree(session, *key)
            hit = (tree.id, tree.published_version or tree.latest_version)
        if forgotten == self._forgotten:
            self._defaults[key] = hit
        return hit

    async def _read_plan(
        self, session: AsyncSession, tree_id: uuid.UUID, number: int
    ) -> CompiledTree:
        async with _own_read(session):
            record = await session.get(TreeVersionRecord, (tree_id, number))
            if record is None:
                raise not_found("tree version")
            compiled = self._plans[(tree_id, number)] = compiled_of(record)
        return compiled

    def forget(self, tenant_id: uuid.UUID, name: str) -> None:
        """Drop the remembered default version (after a publish, a new version or a delete)."""
        self._forgotten += 1
        self._defaults.pop((tenant_id, name), None)
        self._default_reads.forget((tenant_id, name))


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
        self._open_counting: SingleFlight[uuid.UUID, _Count] = SingleFlight()
        self._today_reads: SharedRead[uuid.UUID, _Count] = SharedRead()

    async def open_runs(self, client: Client, tenant_id: uuid.UUID) -> int:
        """Open runs of the tenant, at most `OPEN_RUNS_SECONDS` old."""

        async def count() -> int:
            counted = await client.count_workflows(
                f"TenantId = '{tenant_id}' AND ExecutionStatus = 'Running' "
                f"AND WorkflowType = '{WORKFLOW_NAME}'"  # idle conversations are not runs
            )
            return counted.count

        return await _counted(self._open, self._open_counting.get, tenant_id, count)

    async def runs_today(self, session: AsyncSession, tenant_id: uuid.UUID) -> int:
        """Runs the tenant started since midnight UTC, at most `RUNS_TODAY_SECONDS` old."""

        async def count() -> int:
            counted = await session.scalar(
                sa.select(sa.func.count(RunRecord.id)).where(
                    RunRecord.tenant_id == tenant_id, RunRecord.created_at >= midnight()
                )
            )
            return int(counted or 0)

        return await _counted(self._today, self._today_reads.get, tenant_id, count)

    def started(self, tenant_id: uuid.UUID) -> None:
        """Count a run this replica just started (until the next read from the source)."""
        for cache in (self._open, self._today):
            hit = cache.get(tenant_id)
            if hit is not None:
                hit.value += 1


async def _counted(
    cache: TTLCache[uuid.UUID, _Count],
    shared: Callable[[uuid.UUID, Callable[[], Coroutine[Any, Any, _Count]]], Awaitable[_Count]],
    tenant_id: uuid.UUID,
    count: Callable[[], Awaitable[int]],
) -> int:
    """The tenant's cached count, else `count()` read once for every caller waiting
    meanwhile (`shared`: a `SingleFlight` or `SharedRead` get) and remembered."""
    hit = cache.get(tenant_id)
    if hit is None:

        async def load() -> _Count:
            fresh = cache[tenant_id] = _Count(await count())
            return fresh

        hit = await shared(tenant_id, load)
    return hit.value


def midnight() -> datetime:
    """Today's start, UTC (the daily quota's window)."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def seconds_to_midnight() -> float:
    """Seconds until the daily quota resets."""
    return (midnight() + timedelta(days=1) - datetime.now(UTC)).total_seconds()

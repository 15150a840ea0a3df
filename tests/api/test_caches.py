"""The API's in-memory caches: single-flight loads, shared reads, stale-while-refresh
tenant settings, remembered default tree versions, run counts."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

import api.run_lookups
import api.trees
from api.db.models import Tenant
from api.run_lookups import RunCounts, TreePlans
from api.services import Services
from api.singleflight import SharedRead, SingleFlight
from api.tenancy import TenantSettingsCache
from tests.api.conftest import World, create_tenant
from tests.api.test_trees import create, tree_source, trees_url, unique


@pytest.mark.parametrize("kind", [SingleFlight, SharedRead])
async def test_concurrent_misses_share_one_load_and_a_finished_load_is_not_a_cache(
    kind: type[SingleFlight[str, int]] | type[SharedRead[str, int]],
) -> None:
    flight = kind()
    loads = 0
    release = asyncio.Event()

    async def load() -> int:
        nonlocal loads
        loads += 1
        await release.wait()
        return loads

    waiting = [asyncio.create_task(flight.get("k", load)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [1] * 5
    assert await flight.get("k", load) == 2  # done loads are not a cache


async def test_a_failed_single_flight_load_is_not_kept() -> None:
    flight: SingleFlight[str, int] = SingleFlight()

    async def broken() -> int:
        raise LookupError("down")

    async def load() -> int:
        return 1

    with pytest.raises(LookupError):
        await flight.get("k", broken)
    assert await flight.get("k", load) == 1


async def test_a_failed_shared_read_is_not_handed_to_the_waiting_callers() -> None:
    shared: SharedRead[str, str] = SharedRead()
    release = asyncio.Event()
    readers: list[str] = []

    async def broken() -> str:
        readers.append("first")
        await release.wait()
        raise LookupError("this caller's session is gone")

    async def read() -> str:
        readers.append("waiter")
        await asyncio.sleep(0.01)  # the other waiters arrive while it reads
        return "read by a waiter"

    first = asyncio.create_task(shared.get("k", broken))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(shared.get("k", read)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(LookupError):
        await first
    # The next waiter reads for itself; the others share that read.
    assert await asyncio.gather(*waiters) == ["read by a waiter"] * 3
    assert readers == ["first", "waiter"]


async def test_a_cancelled_first_caller_leaves_the_read_to_a_waiter() -> None:
    shared: SharedRead[str, str] = SharedRead()

    async def hangs() -> str:
        await asyncio.Event().wait()
        return "never"

    async def read() -> str:
        return "fresh"

    first = asyncio.create_task(shared.get("k", hangs))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(shared.get("k", read))
    await asyncio.sleep(0)
    first.cancel()
    assert await waiter == "fresh"


async def test_callers_after_forget_do_not_join_the_read_in_flight() -> None:
    shared: SharedRead[str, str] = SharedRead()
    release = asyncio.Event()

    async def old() -> str:
        await release.wait()
        return "before the change"

    async def new() -> str:
        return "after the change"

    before = asyncio.create_task(shared.get("k", old))
    await asyncio.sleep(0)
    shared.forget("k")
    assert await shared.get("k", new) == "after the change"
    release.set()
    assert await before == "before the change"


async def test_concurrent_misses_of_a_default_version_read_the_tree_once(
    world: World, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = unique("stampede")
    await create(world.user.client, world.tenant_a, tree_source(tree, "one"))
    reads = 0
    real_get_tree = api.trees.get_tree

    async def counted_get_tree(*args: Any) -> Any:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.05)  # long enough for every caller to arrive
        return await real_get_tree(*args)

    monkeypatch.setattr(api.run_lookups, "get_tree", counted_get_tree)
    plans = TreePlans()
    sessions = [services.sessions() for _ in range(10)]
    plans_read = await asyncio.gather(
        *(plans.resolve(s, world.tenant_a, tree, None) for s in sessions)
    )
    assert {plan.number for plan in plans_read} == {1}
    assert reads == 1
    # The reading session gave its connection back (SQLite's only one, in dev and CI).
    assert not any(s.in_transaction() for s in sessions)
    for s in sessions:
        await s.close()


async def test_a_default_read_overlapping_forget_is_not_remembered(
    world: World, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.run_lookups, "TREE_CACHE_SECONDS", 3600.0)
    tree = unique("overlap")
    await create(world.user.client, world.tenant_a, tree_source(tree, "one"))
    plans = TreePlans()
    release = asyncio.Event()
    real_get_tree = api.trees.get_tree

    async def slow_get_tree(*args: Any) -> Any:
        found = await real_get_tree(*args)
        await release.wait()
        return found

    monkeypatch.setattr(api.run_lookups, "get_tree", slow_get_tree)
    async with services.sessions() as session:
        reading = asyncio.create_task(plans.resolve(session, world.tenant_a, tree, None))
        await asyncio.sleep(0.05)
        plans.forget(world.tenant_a, tree)  # e.g. a new version was published meanwhile
        release.set()
        assert (await reading).number == 1
    await world.user.client.post(
        f"{trees_url(world.tenant_a)}/{tree}/versions", json={"source": tree_source(tree, "two")}
    )
    monkeypatch.setattr(api.run_lookups, "get_tree", real_get_tree)
    async with services.sessions() as session:
        assert (await plans.resolve(session, world.tenant_a, tree, None)).number == 2


async def test_concurrent_misses_of_the_open_run_count_ask_temporal_once() -> None:
    asked = 0

    async def count_workflows(query: str) -> SimpleNamespace:
        nonlocal asked
        asked += 1
        await asyncio.sleep(0.05)
        return SimpleNamespace(count=7)

    client: Any = SimpleNamespace(count_workflows=count_workflows)
    counts = RunCounts()
    tenant = uuid.uuid4()
    assert await asyncio.gather(*(counts.open_runs(client, tenant) for _ in range(20))) == [7] * 20
    assert asked == 1
    counts.started(tenant)  # the shared count is the cached one: local increments apply
    assert await counts.open_runs(client, tenant) == 8
    assert asked == 1


async def set_quota(services: Services, tenant: object, limit: int) -> None:
    async with services.sessions() as session:
        await session.execute(
            sa.update(Tenant)
            .where(Tenant.id == tenant)
            .values(settings={"quotas": {"max_concurrent_runs": limit}})
        )
        await session.commit()


async def test_stale_tenant_settings_are_served_while_one_read_refreshes(
    services: Services,
) -> None:
    tenant = await create_tenant(services, "cache")
    cache = TenantSettingsCache(services.sessions, ttl_seconds=0)  # stale at once
    await set_quota(services, tenant, 3)
    first = await cache.get(tenant)
    assert first is not None
    assert first.quotas.max_concurrent_runs == 3
    await set_quota(services, tenant, 4)
    stale = await cache.get(tenant)  # served from memory, refresh started
    assert stale is not None
    assert stale.quotas.max_concurrent_runs == 3
    for _ in range(200):
        await asyncio.sleep(0.01)
        fresh = await cache.get(tenant)
        if fresh is not None and fresh.quotas.max_concurrent_runs == 4:
            break
    else:
        pytest.fail("the background refresh never landed")
    cache.invalidate(tenant)
    await set_quota(services, tenant, 5)
    reread = await cache.get(tenant)
    assert reread is not None
    assert reread.quotas.max_concurrent_runs == 5


async def test_a_settings_read_overlapping_invalidate_is_neither_joined_nor_kept(
    services: Services,
) -> None:
    """An admin's change invalidates the tenant while a read of the old settings is in
    flight: later callers read afresh and the old read is not remembered."""
    tenant = await create_tenant(services, "overlap")
    await set_quota(services, tenant, 3)
    read_started, release = asyncio.Event(), asyncio.Event()
    held = True

    @contextlib.asynccontextmanager
    async def sessions() -> AsyncIterator[Any]:
        async with services.sessions() as session:
            if held:  # only the first read waits, after it has its session
                read_started.set()
                await release.wait()
            yield session

    cache = TenantSettingsCache(sessions)  # type: ignore[arg-type]
    old_read = asyncio.create_task(cache.get(tenant))
    await read_started.wait()
    held = False
    await set_quota(services, tenant, 4)
    cache.invalidate(tenant)
    fresh = await asyncio.wait_for(cache.get(tenant), 10)  # joining the old read hangs
    assert fresh is not None
    assert fresh.quotas.max_concurrent_runs == 4
    release.set()
    old = await old_read
    assert old is not None  # its own caller gets what it read
    kept = await cache.get(tenant)
    assert kept is not None
    assert kept.quotas.max_concurrent_runs == 4


async def test_a_remembered_default_version_is_dropped_by_forget(
    world: World, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.run_lookups, "TREE_CACHE_SECONDS", 3600.0)  # no expiry mid-test
    tree = unique("remembered")
    await create(world.user.client, world.tenant_a, tree_source(tree, "one"))
    plans = TreePlans()
    async with services.sessions() as session:
        assert (await plans.resolve(session, world.tenant_a, tree, None)).number == 1
    await world.user.client.post(
        f"{trees_url(world.tenant_a)}/{tree}/versions", json={"source": tree_source(tree, "two")}
    )
    async with services.sessions() as session:
        assert (await plans.resolve(session, world.tenant_a, tree, None)).number == 1
        plans.forget(world.tenant_a, tree)
        assert (await plans.resolve(session, world.tenant_a, tree, None)).number == 2

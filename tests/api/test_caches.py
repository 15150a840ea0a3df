"""The API's in-memory caches: single-flight loads, stale-while-refresh tenant settings,
remembered default tree versions."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

import api.run_lookups
from api.db.models import Tenant
from api.run_lookups import TreePlans
from api.services import Services
from api.singleflight import SingleFlight
from api.tenancy import TenantSettingsCache
from tests.api.conftest import World, create_tenant
from tests.api.test_trees import create, tree_source, trees_url, unique


async def test_concurrent_misses_share_one_load_and_a_failure_is_not_kept() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
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

    async def broken() -> int:
        raise LookupError("down")

    with pytest.raises(LookupError):
        await flight.get("k", broken)
    assert await flight.get("k", load) == 3


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

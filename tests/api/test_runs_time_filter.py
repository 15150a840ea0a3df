"""The runs list filtered by start time (the Studio's runs list uses it)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from tests.api.conftest import World
from tests.api.test_runs import runs_url, start
from tests.api.test_trees import create, tree_source, unique


async def listed_ids(world: World, params: dict[str, Any], expected: int) -> list[str]:
    ids: list[str] = []
    for _ in range(100):  # visibility is eventually consistent
        page = await world.read_only.client.get(runs_url(world.tenant_a), params=params)
        assert page.status_code == 200, page.text
        ids = [run["id"] for run in page.json()["runs"]]
        if len(ids) == expected:
            break
        await asyncio.sleep(0.1)
    return ids


async def test_runs_are_filtered_by_start_time(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    early, late = unique("early"), unique("late")
    await start(world.user.client, world.tenant_a, name, early)
    await asyncio.sleep(1.0)
    middle = datetime.now(UTC).isoformat()
    await asyncio.sleep(1.0)
    await start(world.user.client, world.tenant_a, name, late)
    assert sorted(await listed_ids(world, {"tree": name}, 2)) == sorted([early, late])
    assert await listed_ids(world, {"tree": name, "started_after": middle}, 1) == [late]
    assert await listed_ids(world, {"tree": name, "started_before": middle}, 1) == [early]
    window = {"tree": name, "started_after": "2000-01-01T00:00:00Z", "started_before": middle}
    assert await listed_ids(world, window, 1) == [early]


async def test_a_page_token_holds_only_for_the_same_time_filter(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    for _ in range(2):
        await start(world.user.client, world.tenant_a, name, unique("paged"))
    since = {"tree": name, "started_after": "2000-01-01T00:00:00Z"}
    await listed_ids(world, since, 2)
    first = await world.read_only.client.get(runs_url(world.tenant_a), params={**since, "limit": 1})
    token = first.json()["next_page_token"]
    assert token
    other = {"tree": name, "started_after": "2001-01-01T00:00:00Z", "page_token": token}
    refused = await world.read_only.client.get(runs_url(world.tenant_a), params=other)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "query.page_token"


async def test_bad_time_filters_are_problems_naming_the_field(world: World) -> None:
    url = runs_url(world.tenant_a)
    cases = [
        ({"started_after": "yesterday"}, "query.started_after"),
        ({"started_before": "2026-01-01T00:00:00"}, "query.started_before"),  # no offset
        (
            {"started_after": "2026-01-02T00:00:00Z", "started_before": "2026-01-01T00:00:00Z"},
            "query.started_before",
        ),
        # Times that parse but no visibility query can hold (the fuzzer found the first
        # two as 500s): a year before the epoch, a year-1 time with no UTC year at all,
        # and year 9999 pushed past it by its offset.
        ({"started_after": "0010-08-16T00:00:00Z"}, "query.started_after"),
        ({"started_before": "0001-01-01T00:00:00+05:00"}, "query.started_before"),
        ({"started_before": "9999-12-31T23:00:00-05:00"}, "query.started_before"),
    ]
    for params, field in cases:
        response = await world.read_only.client.get(url, params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [error["field"] for error in response.json()["errors"]] == [field]

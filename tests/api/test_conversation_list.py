"""Listing a tenant's conversations (`GET .../conversations`), so a client can resume one."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import World
from tests.api.test_conversations import ECHO, conversations_url, new_conversation, say, tree


async def listed(world: World, **params: Any) -> dict[str, Any]:
    response = await world.read_only.client.get(conversations_url(world.tenant_a), params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def wait_listed(world: World, ids: set[str], **params: Any) -> dict[str, dict[str, Any]]:
    """The listed conversations once all of `ids` are (visibility is eventually consistent)."""
    for _ in range(100):
        found = {c["id"]: c for c in (await listed(world, **params))["conversations"]}
        if ids <= set(found):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{ids - set(found)} never listed")


async def test_conversations_are_listed_with_their_tree_and_status(world: World) -> None:
    client, tenant = world.user.client, world.tenant_a
    first_tree, second_tree = await tree(world, ECHO, "listed"), await tree(world, ECHO, "other")
    ended = await new_conversation(client, tenant, first_tree)
    assert (await say(client, tenant, ended, "hello")).status_code == 200
    assert (await client.post(f"{conversations_url(tenant)}/{ended}/end")).status_code == 200
    open_one = await new_conversation(client, tenant, second_tree)

    found = await wait_listed(world, {ended, open_one})
    assert found[open_one]["tree"] == second_tree
    assert found[open_one]["links"]["self"] == f"{conversations_url(tenant)}/{open_one}"
    for _ in range(100):  # the end reaches visibility a moment later
        if found[ended]["status"] == "ended":
            break
        await asyncio.sleep(0.1)
        found = await wait_listed(world, {ended})
    assert (found[ended]["status"], found[open_one]["status"]) == ("ended", "open")
    assert found[ended]["closed_at"] is not None

    only = await wait_listed(world, {open_one}, tree=second_tree)
    assert set(only) == {open_one}

    outsider = await world.outsider.client.get(conversations_url(tenant))
    assert outsider.status_code in (403, 404)
    other_tenant = await world.outsider.client.get(conversations_url(world.tenant_b))
    assert other_tenant.status_code == 200, other_tenant.text
    assert not {ended, open_one} & {c["id"] for c in other_tenant.json()["conversations"]}


async def test_conversations_page_and_bad_filters_name_the_field(world: World) -> None:
    client, tenant = world.user.client, world.tenant_a
    name = await tree(world, ECHO, "paged")
    ids = {await new_conversation(client, tenant, name) for _ in range(3)}
    await wait_listed(world, ids, tree=name)
    first = await listed(world, tree=name, limit=2)
    assert len(first["conversations"]) == 2
    assert first["next_page_token"]
    rest = await listed(world, tree=name, limit=2, page_token=first["next_page_token"])
    assert {c["id"] for c in first["conversations"] + rest["conversations"]} == ids

    for params, field in (
        ({"limit": 0}, "query.limit"),
        ({"tree": "Not A Name"}, "query.tree"),
        ({"page_token": "forged.token"}, "query.page_token"),
    ):
        bad = await client.get(conversations_url(tenant), params=params)
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in bad.json()["errors"]]

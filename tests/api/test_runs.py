"""Runs over the API against the real Temporal dev server and the session worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from api.db.models import RunRecord
from api.services import Services
from tests.api.conftest import World
from tests.api.test_trees import create, tree_source, unique
from tests.support.trees import yes_no


def runs_url(tenant: uuid.UUID) -> str:
    return f"/v1/tenants/{tenant}/runs"


APPROVAL = {
    "description": "wait for an approval",
    "start": "ask",
    "nodes": {
        "ask": yes_no("Approve {{ inputs.item }}?", "done"),
        "done": {"kind": "end", "output": {"answer": "{{ state.answer }}"}},
    },
    "inputs": {"item": {"type": "string"}},
}


async def approval_tree(world: World) -> str:
    name = unique("approval")
    await create(world.user.client, world.tenant_a, yaml.safe_dump({"name": name, **APPROVAL}))
    return name


async def start(
    client: httpx.AsyncClient, tenant: uuid.UUID, tree: str, key: str, **body: Any
) -> httpx.Response:
    return await client.post(
        runs_url(tenant), json={"tree": tree, **body}, headers={"Idempotency-Key": key}
    )


@asynccontextmanager
async def one_open_run_allowed(client: httpx.AsyncClient, tenant: uuid.UUID) -> AsyncIterator[None]:
    """The tenant's quota at one concurrent run inside the block; its settings back after."""
    settings_url = f"/v1/tenants/{tenant}/settings"
    current = (await client.get(settings_url)).json()
    quotas = {**current["quotas"], "max_concurrent_runs": 1}
    await client.put(settings_url, json={**current, "quotas": quotas})
    try:
        await asyncio.sleep(5.5)  # the settings cache and the open-run count refresh
        yield
    finally:
        await client.put(settings_url, json=current)


async def wait_until(
    client: httpx.AsyncClient, url: str, statuses: set[str], within: float = 20.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        view: dict[str, Any] = (await client.get(url)).json()
        if view.get("status") in statuses:
            return view
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"run never reached {statuses}: {view}")
        await asyncio.sleep(0.1)


async def test_start_and_read_a_run_to_completion(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name, "Hi {{ 1 + 1 }}"))
    key = unique("run")
    response = await start(world.user.client, world.tenant_a, name, key)
    assert response.status_code == 201, response.text
    view = response.json()
    assert view["id"] == key
    assert view["workflow_id"] == f"{world.tenant_a}:{key}"
    assert view["tree"]["version"] == 1
    assert view["links"]["temporal_ui"].endswith(f"{world.tenant_a}%3A{key}")
    assert response.headers["location"] == view["links"]["self"]
    done = await wait_until(world.read_only.client, view["links"]["self"], {"completed"})
    assert done["output"] == {"text": "Hi 2"}
    assert done["path"] == ["greet", "done"]
    assert done["outcome"] == "completed"
    assert done["closed_at"] is not None


async def test_the_same_key_returns_the_same_run(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    key = unique("idem")
    first = await start(world.user.client, world.tenant_a, name, key)
    again = await start(world.user.client, world.tenant_a, name, key)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["workflow_id"] == first.json()["workflow_id"]
    different = await start(world.user.client, world.tenant_a, name, key, inputs={"x": 1})
    assert different.status_code == 409
    assert different.json()["type"].endswith("idempotency-conflict")


async def test_concurrent_starts_with_one_key_make_one_run(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    key = unique("race")
    answers = await asyncio.gather(
        *(start(world.user.client, world.tenant_a, name, key) for _ in range(5))
    )
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201]
    assert len({a.json()["workflow_id"] for a in answers}) == 1


async def test_the_idempotency_key_is_required_and_checked(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    missing = await world.user.client.post(runs_url(world.tenant_a), json={"tree": name})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "header.Idempotency-Key"
    bad = await start(world.user.client, world.tenant_a, name, "has spaces/and slashes")
    assert bad.status_code == 422


async def test_bad_inputs_and_unknown_trees_are_clear(world: World) -> None:
    name = await approval_tree(world)
    bad = await start(world.user.client, world.tenant_a, name, unique(), inputs={"item": 5})
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"field": "body.inputs.item", "message": "expected string, got int"}
    ]
    missing = await start(world.user.client, world.tenant_a, unique(), unique())
    assert missing.status_code == 404
    old = await start(world.user.client, world.tenant_a, name, unique(), version=7)
    assert old.status_code == 404


async def test_input_and_cancel_through_the_api(world: World) -> None:
    name = await approval_tree(world)
    client = world.user.client
    key = unique("ask")
    view = (await start(client, world.tenant_a, name, key, inputs={"item": "invoice 9"})).json()
    url = view["links"]["self"]
    waiting = await wait_until(client, url, {"waiting_input"})
    assert waiting["waiting_for"] == [
        {"node": "ask", "prompt": "Approve invoice 9?", "choices": ["yes", "no"]}
    ]
    rejected = await client.post(f"{url}/input", json={"value": "maybe"})
    assert rejected.status_code == 409
    assert "answer must be one of" in rejected.json()["detail"]
    read_only = await world.read_only.client.post(f"{url}/input", json={"value": "yes"})
    assert read_only.status_code == 403
    accepted = await client.post(f"{url}/input", json={"value": "yes"})
    assert accepted.json() == {"node": "ask"}
    done = await wait_until(client, url, {"completed"})
    assert done["output"] == {"answer": "yes"}

    other = (await start(client, world.tenant_a, name, unique(), inputs={"item": "x"})).json()
    await wait_until(client, other["links"]["self"], {"waiting_input"})
    assert (await client.post(f"{other['links']['self']}/cancel")).status_code == 202
    cancelled = await wait_until(client, other["links"]["self"], {"cancelled"})
    assert cancelled["failure"]["type"] == "CancelledError"
    assert (await client.post(f"{other['links']['self']}/cancel")).status_code == 409
    closed = await client.post(f"{other['links']['self']}/input", json={"value": "yes"})
    assert closed.status_code == 409


async def test_failed_runs_report_the_reason(world: World) -> None:
    name = unique()
    source = tree_source(name, "{{ 1 / 0 }}")
    await create(world.user.client, world.tenant_a, source)
    view = (await start(world.user.client, world.tenant_a, name, unique())).json()
    failed = await wait_until(world.user.client, view["links"]["self"], {"failed"})
    assert failed["failure"] == {
        "message": "nodes.greet.args.text: division by zero at column 3",
        "type": "TemplateError",
    }


async def test_listing_is_scoped_filtered_and_paged(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    keys = [unique("list") for _ in range(3)]
    for key in keys:
        await start(world.user.client, world.tenant_a, name, key)
    listed: list[dict[str, Any]] = []
    for _ in range(100):  # visibility is eventually consistent
        page = await world.read_only.client.get(runs_url(world.tenant_a), params={"tree": name})
        listed = page.json()["runs"]
        if len(listed) == 3:
            break
        await asyncio.sleep(0.1)
    assert sorted(r["id"] for r in listed) == sorted(keys)
    assert {r["tree"] for r in listed} == {name}
    first = (
        await world.read_only.client.get(
            runs_url(world.tenant_a), params={"tree": name, "limit": 2}
        )
    ).json()
    assert len(first["runs"]) == 2
    assert first["next_page_token"]
    second = (
        await world.read_only.client.get(
            runs_url(world.tenant_a),
            params={"tree": name, "limit": 2, "page_token": first["next_page_token"]},
        )
    ).json()
    assert {r["id"] for r in first["runs"]} | {r["id"] for r in second["runs"]} == set(keys)
    garbage = await world.read_only.client.get(
        runs_url(world.tenant_a), params={"page_token": "bm90LWEtdG9rZW4="}
    )
    assert garbage.status_code == 422


async def test_tenant_b_cannot_touch_tenant_a_runs_even_with_their_ids(world: World) -> None:
    name = await approval_tree(world)
    key = unique("private")
    started = await start(
        world.user.client, world.tenant_a, name, key, inputs={"item": "secret plan"}
    )
    assert started.status_code == 201, started.text  # once a KeyError on 'links' in CI
    view = started.json()
    await wait_until(world.user.client, view["links"]["self"], {"waiting_input"})
    outsider = world.outsider.client
    own = runs_url(world.tenant_b)
    for response in [
        await outsider.get(f"{runs_url(world.tenant_a)}/{key}"),
        await outsider.get(f"{own}/{key}"),
        await outsider.get(f"{own}/{view['workflow_id']}"),
        await outsider.post(f"{own}/{key}/input", json={"value": "yes"}),
        await outsider.post(f"{own}/{key}/cancel"),
        await outsider.post(f"{runs_url(world.tenant_a)}/{key}/cancel"),
        await outsider.get(runs_url(world.tenant_a)),
    ]:
        assert response.status_code == 404, response.text
    for _ in range(30):
        listed = (await outsider.get(own)).json()["runs"]
        assert key not in [r["id"] for r in listed]
        await asyncio.sleep(0.02)
    still = await world.user.client.get(view["links"]["self"])
    assert still.json()["status"] == "waiting_input"
    await world.user.client.post(f"{view['links']['self']}/cancel")


async def test_quota_on_concurrent_runs(world: World) -> None:
    outsider = world.outsider.client
    name = unique("quota")
    await create(outsider, world.tenant_b, yaml.safe_dump({"name": name, **APPROVAL}))
    async with one_open_run_allowed(outsider, world.tenant_b):
        first = await start(outsider, world.tenant_b, name, unique(), inputs={"item": "a"})
        assert first.status_code == 201, first.text
        second = await start(outsider, world.tenant_b, name, unique(), inputs={"item": "b"})
        assert second.status_code == 429
        assert second.json()["type"].endswith("quota-exceeded")
        assert int(second.headers["retry-after"]) >= 1
        await outsider.post(f"{first.json()['links']['self']}/cancel")


@pytest.mark.parametrize("field", ["tree", "version"])
async def test_start_body_is_validated(world: World, field: str) -> None:
    body: dict[str, Any] = {"tree": "ok-name", "version": 1}
    body[field] = "Not Valid!" if field == "tree" else 0
    response = await world.user.client.post(
        runs_url(world.tenant_a), json=body, headers={"Idempotency-Key": unique()}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == f"body.{field}"


async def test_runs_without_any_worker_still_answer(start_app: Any, make_settings: Any) -> None:
    """A run no worker has picked up yet (or a fleet that is down) reads as running:
    an idempotent retry and a read get 200, never a 500 from a query that cannot run."""
    from api.db.models import Role
    from tests.api.conftest import create_actor, create_tenant

    settings = make_settings()
    idle = settings.temporal.model_copy(update={"task_queue": f"nobody-{uuid.uuid4().hex[:6]}"})
    app = await start_app(settings.model_copy(update={"temporal": idle}))
    tenant = await create_tenant(app.state.services, "idle")
    admin = await create_actor(app, "idle-admin", {tenant: Role.ADMIN})
    name = unique()
    await create(admin.client, tenant, tree_source(name))
    first = await start(admin.client, tenant, name, "lonely")
    again = await start(admin.client, tenant, name, "lonely")
    read = await admin.client.get(first.json()["links"]["self"])
    assert (first.status_code, again.status_code, read.status_code) == (201, 200, 200)
    assert again.json()["status"] == read.json()["status"] == "running"
    await admin.client.aclose()


async def test_a_start_that_loses_the_race_to_a_finished_run_is_not_a_500(
    world: World, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workflow exists (another request with the key started it, and it may have
    ended) but that request's record is not written yet: wait for it, never a 500."""
    from api import runs as runs_module

    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    key = unique("lost-race")
    first = await start(world.user.client, world.tenant_a, name, key)
    assert first.status_code == 201
    for _ in range(200):  # the run ends, so a new start of its workflow id is refused
        view = (await world.user.client.get(f"{runs_url(world.tenant_a)}/{key}")).json()
        if view["status"] != "running":
            break
        await asyncio.sleep(0.05)
    assert view["status"] == "completed", view
    async with services.sessions() as session:
        record = await session.scalar(sa.select(RunRecord).where(RunRecord.key == key))
        assert record is not None
        await session.delete(record)  # as if the winner had not committed its record yet
        await session.commit()
    monkeypatch.setattr(runs_module, "RACE_WAIT_STEPS", 3)
    monkeypatch.setattr(runs_module, "RACE_WAIT_SECONDS", 0.01)
    again = await start(world.user.client, world.tenant_a, name, key)
    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == "application/problem+json"
    assert "being started" in again.json()["detail"]

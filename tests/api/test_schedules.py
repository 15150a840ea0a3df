"""Schedules over the API on the real Temporal dev server and the session worker.

Schedules fire on their own (an interval of 1 s), by trigger and by backfill; their
runs carry the schedule's id in the run view and the runs list; `published`
schedules follow a publish (and a failed follow is retried by publishing again).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError

from api import schedules as schedule_service
from api.schedule_publish import follow_publish
from api.services import Services
from api.trees import get_tree
from tests.api.conftest import World
from tests.api.test_trees import create, trees_url, unique
from tests.support.trees import greeting_tree


def greeting(name: str, text: str = "v1 hello {{ inputs.team }}", **extra: Any) -> str:
    """A tree greeting the `team` input, as YAML."""
    spec = greeting_tree(
        name, text, description="greets a team", inputs={"team": {"type": "string"}}, **extra
    )
    return yaml.safe_dump(spec, sort_keys=False)


def schedules_url(tenant: uuid.UUID) -> str:
    return f"/v1/tenants/{tenant}/schedules"


async def published_tree(world: World) -> str:
    name = unique("sched-tree")
    await create(world.user.client, world.tenant_a, greeting(name))
    publish = await world.user.client.post(
        f"{trees_url(world.tenant_a)}/{name}/publish", json={"version": 1}
    )
    assert publish.status_code == 200, publish.text
    return name


async def new_schedule(client: httpx.AsyncClient, tenant: uuid.UUID, **body: Any) -> dict[str, Any]:
    response = await client.post(schedules_url(tenant), json=body)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == response.json()["links"]["self"]
    view: dict[str, Any] = response.json()
    return view


PAUSED_HOURLY: dict[str, Any] = {"interval_seconds": 3600, "paused": True}


async def user_schedule(world: World, **body: Any) -> dict[str, Any]:
    """A schedule the world's user creates in tenant A (see new_schedule)."""
    return await new_schedule(world.user.client, world.tenant_a, **body)


async def eventually(
    check: Callable[[], Awaitable[Any]], within: float = 20.0, every: float = 0.2
) -> Any:
    """The first truthy result of `check`, polled until `within` seconds pass."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {result!r})")
        await asyncio.sleep(every)


async def schedule_runs(world: World, name: str, least: int) -> list[dict[str, Any]]:
    """The runs the runs list shows for schedule `name`, once there are `least`."""

    async def listed() -> list[dict[str, Any]] | None:
        response = await world.user.client.get(
            f"/v1/tenants/{world.tenant_a}/runs", params={"schedule": name}
        )
        assert response.status_code == 200, response.text
        runs: list[dict[str, Any]] = response.json()["runs"]
        return runs if len(runs) >= least else None

    found: list[dict[str, Any]] = await eventually(listed)
    return found


async def completed_run_in(
    client: httpx.AsyncClient, tenant: uuid.UUID, key: str
) -> dict[str, Any]:
    async def closed() -> dict[str, Any] | None:
        view: dict[str, Any] = (await client.get(f"/v1/tenants/{tenant}/runs/{key}")).json()
        return view if view.get("status") == "completed" else None

    found: dict[str, Any] = await eventually(closed)
    return found


async def completed_run(world: World, key: str) -> dict[str, Any]:
    return await completed_run_in(world.user.client, world.tenant_a, key)


async def test_an_interval_schedule_fires_and_its_runs_carry_its_id(world: World) -> None:
    tree = await published_tree(world)
    name = unique("every-second")
    view = await user_schedule(
        world,
        name=name,
        tree=tree,
        interval_seconds=1,
        inputs={"team": "billing"},
        overlap="allow_all",
    )
    assert view["tree"] == {"name": tree, "version": 1, "version_policy": "published"}
    assert view["paused"] is False
    assert view["inputs"] == {"team": "billing"}
    assert view["next_run_times"], "Temporal reports when it fires next"
    try:
        runs = await schedule_runs(world, name, least=2)  # it fired on its own, twice
        assert {r["schedule_id"] for r in runs} == {name}
        assert all(r["id"].startswith(f"sched.{name}-") for r in runs)
        run = await completed_run(world, runs[-1]["id"])
        assert run["schedule_id"] == name
        assert run["tree"]["version"] == 1
        assert run["output"] == {"text": "v1 hello billing"}
        unrelated = await world.user.client.get(
            f"/v1/tenants/{world.tenant_a}/runs", params={"schedule": unique("none")}
        )
        assert unrelated.json()["runs"] == []
        shown = (await world.user.client.get(f"{schedules_url(world.tenant_a)}/{name}")).json()
        assert shown["actions_taken"] >= 2
        assert len(shown["recent_runs"]) >= 2
        assert {r["schedule_id"] for r in shown["recent_runs"]} == {name}
    finally:
        deleted = await world.user.client.delete(f"{schedules_url(world.tenant_a)}/{name}")
        assert deleted.status_code == 204


async def test_pause_resume_trigger_backfill_update_and_delete(
    world: World, client: Client
) -> None:
    tree = await published_tree(world)
    name = unique("hourly")
    url = f"{schedules_url(world.tenant_a)}/{name}"
    view = await user_schedule(
        world,
        name=name,
        tree=tree,
        inputs={"team": "ops"},
        **PAUSED_HOURLY,
        note="created paused",
    )
    assert view["paused"] is True
    assert view["note"] == "created paused"
    listed = (await world.read_only.client.get(schedules_url(world.tenant_a))).json()
    assert name in [s["name"] for s in listed["schedules"]]

    # Trigger now: one run, while paused.
    assert (await world.user.client.post(f"{url}/trigger")).status_code == 202
    (first,) = await schedule_runs(world, name, least=1)
    assert (await completed_run(world, first["id"]))["output"] == {"text": "v1 hello ops"}

    # Resume, then pause again with a note.
    assert (await world.user.client.post(f"{url}/resume")).status_code == 204
    assert (await world.user.client.get(url)).json()["paused"] is False
    paused = await world.user.client.post(f"{url}/pause", json={"note": "maintenance"})
    assert paused.status_code == 204
    shown = (await world.user.client.get(url)).json()
    assert shown["paused"] is True
    assert shown["note"] == "maintenance"

    # Update: every minute, other inputs; unchanged fields keep their values.
    changed = await world.user.client.patch(
        url,
        json={"interval_seconds": 60, "inputs": {"team": "sales"}, "catchup_window_seconds": 30},
    )
    assert changed.status_code == 200, changed.text
    updated = changed.json()
    assert updated["spec"]["interval_seconds"] == 60
    assert updated["inputs"] == {"team": "sales"}
    assert updated["catchup_window_seconds"] == 30
    assert updated["paused"] is True
    assert updated["overlap"] == "skip"

    # Backfill five minutes: the spec matches five times, five runs start.
    end = datetime.now(UTC).replace(second=30, microsecond=0) - timedelta(hours=1)
    backfill = await world.user.client.post(
        f"{url}/backfill",
        json={
            "start_at": (end - timedelta(minutes=5)).isoformat(),
            "end_at": end.isoformat(),
            "overlap": "allow_all",
        },
    )
    assert backfill.status_code == 202, backfill.text
    assert backfill.json() == {"runs": 5}
    runs = await schedule_runs(world, name, least=6)
    later = [r for r in runs if r["id"] != first["id"]]
    assert (await completed_run(world, later[0]["id"]))["output"] == {"text": "v1 hello sales"}

    # Delete: gone from the API and from Temporal; its runs stay readable.
    assert (await world.user.client.delete(url)).status_code == 204
    assert (await world.user.client.get(url)).status_code == 404
    with pytest.raises(RPCError):
        await client.get_schedule_handle(f"{world.tenant_a}:{name}").describe()
    kept = await world.user.client.get(f"/v1/tenants/{world.tenant_a}/runs/{first['id']}")
    assert kept.status_code == 200
    assert kept.json()["schedule_id"] == name
    audit = await world.admin.client.get(f"/v1/tenants/{world.tenant_a}/audit")
    actions = {e["action"] for e in audit.json()["events"] if e.get("target") == name}
    assert {
        "create_schedule",
        "trigger_schedule",
        "resume_schedule",
        "pause_schedule",
        "update_schedule",
        "backfill_schedule",
        "delete_schedule",
    } <= actions


async def test_published_schedules_follow_a_publish_and_pinned_ones_stay(
    app: FastAPI, world: World, services: Services
) -> None:
    tree = await published_tree(world)
    follows, pinned = unique("follows"), unique("pinned")
    common = {"tree": tree, "interval_seconds": 3600, "inputs": {"team": "qa"}, "paused": True}
    await user_schedule(world, name=follows, **common)
    await user_schedule(world, name=pinned, version_policy="pinned", version=1, **common)
    versions = f"{trees_url(world.tenant_a)}/{tree}/versions"
    added = await world.user.client.post(
        versions, json={"source": greeting(tree, "v2 hi {{ inputs.team }}")}
    )
    assert added.status_code == 201, added.text
    publish_url = f"{trees_url(world.tenant_a)}/{tree}/publish"

    # A publish whose schedule update fails (Temporal unreachable) keeps version 1 and
    # says why; publishing again retries it.
    async def unreachable() -> Client:
        raise ConnectionError("temporal is down")

    async with services.sessions() as session:
        record = await get_tree(session, world.tenant_a, tree)
        record.published_version = 2
        await session.commit()
        settings = await services.tenant_settings.get(world.tenant_a)
        assert settings is not None
        outcome = await follow_publish(
            services.schedules,
            session,
            unreachable,
            world.tenant_a,
            record,
            settings=settings,
            flags=None,
            actor="t",
        )
    assert outcome["failed"] == [follows]
    stale = (await world.user.client.get(f"{schedules_url(world.tenant_a)}/{follows}")).json()
    assert stale["tree"]["version"] == 1
    assert "temporal is down" in stale["sync_error"]

    assert (await world.user.client.post(publish_url, json={"version": 2})).status_code == 200
    moved = (await world.user.client.get(f"{schedules_url(world.tenant_a)}/{follows}")).json()
    assert moved["tree"]["version"] == 2
    assert moved["sync_error"] is None
    assert moved["inputs"] == {"team": "qa"}
    kept = (await world.user.client.get(f"{schedules_url(world.tenant_a)}/{pinned}")).json()
    assert kept["tree"]["version"] == 1

    for name, text in ((follows, "v2 hi qa"), (pinned, "v1 hello qa")):
        assert (
            await world.user.client.post(f"{schedules_url(world.tenant_a)}/{name}/trigger")
        ).status_code == 202
        (run,) = await schedule_runs(world, name, least=1)
        assert (await completed_run(world, run["id"]))["output"] == {"text": text}

    # A published version that refuses the schedule's inputs pauses it with the reason.
    strict = greeting(tree, "v3 {{ inputs.team }}")
    strict_spec = yaml.safe_load(strict)
    strict_spec["inputs"] = {"team": {"type": "integer"}}
    added = await world.user.client.post(versions, json={"source": yaml.safe_dump(strict_spec)})
    assert added.status_code == 201, added.text
    await world.user.client.post(f"{schedules_url(world.tenant_a)}/{follows}/resume")
    assert (await world.user.client.post(publish_url, json={"version": 3})).status_code == 200
    refused = (await world.user.client.get(f"{schedules_url(world.tenant_a)}/{follows}")).json()
    assert refused["paused"] is True
    assert refused["tree"]["version"] == 2
    assert "body.inputs.team" in refused["note"]
    for name in (follows, pinned):
        await world.user.client.delete(f"{schedules_url(world.tenant_a)}/{name}")


async def test_roles_and_tenants_bound_schedules(world: World, client: Client) -> None:
    tree = await published_tree(world)
    name = unique("guarded")
    body = {"name": name, "tree": tree, "interval_seconds": 3600, "paused": True}
    body["inputs"] = {"team": "x"}
    refused = await world.read_only.client.post(schedules_url(world.tenant_a), json=body)
    assert refused.status_code == 403
    await user_schedule(world, **body)
    url = f"{schedules_url(world.tenant_a)}/{name}"
    assert (await world.read_only.client.get(url)).status_code == 200
    for write in ("pause", "resume", "trigger"):
        assert (await world.read_only.client.post(f"{url}/{write}")).status_code == 403
    assert (await world.read_only.client.delete(url)).status_code == 403

    # Another tenant's admin: the tenant is not theirs (404), and the same name in
    # their own tenant is another schedule, unknown there.
    assert (await world.outsider.client.get(url)).status_code == 404
    theirs = f"{schedules_url(world.tenant_b)}/{name}"
    assert (await world.outsider.client.get(theirs)).status_code == 404
    assert (await world.outsider.client.post(f"{theirs}/trigger")).status_code == 404
    assert (await world.outsider.client.delete(theirs)).status_code == 404
    other = await world.outsider.client.post(
        schedules_url(world.tenant_b), json={**body, "tree": tree}
    )
    assert other.status_code == 404  # tenant B has no such tree

    # The same name in tenant B is B's own schedule: its runs are B's, never A's.
    await create(world.outsider.client, world.tenant_b, greeting(tree, "B says {{ inputs.team }}"))
    published = await world.outsider.client.post(
        f"{trees_url(world.tenant_b)}/{tree}/publish", json={"version": 1}
    )
    assert published.status_code == 200
    await new_schedule(world.outsider.client, world.tenant_b, **body)
    assert (await world.outsider.client.post(f"{theirs}/trigger")).status_code == 202
    assert (await world.user.client.post(f"{url}/trigger")).status_code == 202
    (a_run,) = await schedule_runs(world, name, least=1)

    async def b_runs() -> list[dict[str, Any]] | None:
        response = await world.outsider.client.get(
            f"/v1/tenants/{world.tenant_b}/runs", params={"schedule": name}
        )
        runs: list[dict[str, Any]] = response.json()["runs"]
        return runs or None

    (b_run,) = await eventually(b_runs)
    assert b_run["workflow_id"].startswith(f"{world.tenant_b}:")
    assert a_run["workflow_id"].startswith(f"{world.tenant_a}:")
    a_only = await world.user.client.get(
        f"/v1/tenants/{world.tenant_a}/runs", params={"schedule": name}
    )
    assert [r["workflow_id"] for r in a_only.json()["runs"]] == [a_run["workflow_id"]]
    # A's run key read in B is not A's run (the tenant is part of every id): B's own
    # run if both fired in the same second, else nothing.
    crossed = await world.outsider.client.get(f"/v1/tenants/{world.tenant_b}/runs/{a_run['id']}")
    if b_run["id"] == a_run["id"]:
        assert crossed.json()["workflow_id"] == b_run["workflow_id"]
    else:
        assert crossed.status_code == 404
    b_view = await completed_run_in(world.outsider.client, world.tenant_b, b_run["id"])
    assert b_view["output"] == {"text": "B says x"}
    described = await client.get_schedule_handle(f"{world.tenant_a}:{name}").describe()
    assert described.id.startswith(str(world.tenant_a))
    assert (await world.outsider.client.delete(theirs)).status_code == 204
    assert (await world.user.client.delete(url)).status_code == 204


async def test_bad_schedules_answer_422_naming_the_field(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = await published_tree(world)
    url = schedules_url(world.tenant_a)
    base = {"tree": tree, "interval_seconds": 60, "inputs": {"team": "x"}, "paused": True}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"cron": "every tuesday-ish !"}, "body.cron"),
        ({"cron": "0 6 * * *"}, "body.cron"),  # both cron and interval
        ({"cron": "99 99 * * *", "interval_seconds": None}, "body.cron"),  # Temporal refuses
        ({"interval_seconds": 0}, "body.interval_seconds"),
        ({"overlap": "sometimes"}, "body.overlap"),
        ({"catchup_window_seconds": 1}, "body.catchup_window_seconds"),
        ({"time_zone": "Mars/Olympus"}, "body.time_zone"),
        ({"offset_seconds": 60}, "body.offset_seconds"),
        ({"version_policy": "pinned"}, "body.version"),
        ({"inputs": {"team": 7}}, "body.inputs.team"),
        ({"start_at": "2026-12-02T00:00:00"}, "body.start_at"),
        ({"name": "Has Spaces"}, "body.name"),
    ]
    for change, field in cases:
        body = {"name": unique("bad"), **base, **change}
        response = await world.user.client.post(url, json=body)
        assert response.status_code == 422, (change, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], (change, response.json())
    missing = await world.user.client.post(url, json={**base, "name": "x", "tree": "no-such"})
    assert missing.status_code == 404
    draft = unique("draft")
    await create(world.user.client, world.tenant_a, greeting(draft))  # never published
    unpublished = await world.user.client.post(url, json={**base, "name": "y", "tree": draft})
    assert [e["field"] for e in unpublished.json()["errors"]] == ["body.version_policy"]

    name = unique("ranges")
    await user_schedule(world, name=name, **base)
    backfill = f"{url}/{name}/backfill"
    now = datetime.now(UTC)
    ranges: list[tuple[dict[str, Any], str]] = [
        ({"start_at": now.isoformat(), "end_at": (now - timedelta(hours=1)).isoformat()}, "end"),
        ({"start_at": (now - timedelta(days=40)).isoformat(), "end_at": now.isoformat()}, "days"),
        ({"start_at": (now - timedelta(hours=3)).isoformat(), "end_at": now.isoformat()}, "runs"),
    ]
    for body, why in ranges:
        response = await world.user.client.post(backfill, json=body)
        assert response.status_code == 422, (why, response.text)
        assert [e["field"] for e in response.json()["errors"]] == ["body.end_at"], why
    patch = await world.user.client.patch(f"{url}/{name}", json={"overlap": "never"})
    assert patch.status_code == 422
    patch = await world.user.client.patch(f"{url}/{name}", json={"inputs": {"team": []}})
    assert [e["field"] for e in patch.json()["errors"]] == ["body.inputs.team"]
    patch = await world.user.client.patch(f"{url}/{name}", json={"overlap": None})
    assert [e["field"] for e in patch.json()["errors"]] == ["body.overlap"]

    # The per-tenant count is bounded (the constant, lowered here).
    monkeypatch.setattr(schedule_service, "MAX_SCHEDULES_PER_TENANT", 0)
    over = await world.user.client.post(url, json={"name": unique("over"), **base})
    assert over.status_code == 409
    assert over.json()["type"].endswith("schedule-limit")
    monkeypatch.undo()
    assert (await world.user.client.delete(f"{url}/{name}")).status_code == 204


async def test_every_schedule_route_is_documented_with_examples(app: FastAPI) -> None:
    document = app.openapi()
    operations = {
        (method, path): operation
        for path, item in document["paths"].items()
        if "/schedules" in path
        for method, operation in item.items()
    }
    assert len(operations) == 9
    for (method, path), operation in operations.items():
        assert operation["x-permission"].startswith("schedules:"), (method, path)
        body = operation.get("requestBody")
        if body is not None:
            ref = body["content"]["application/json"]["schema"]
            ref = ref.get("$ref") or next(s["$ref"] for s in ref.get("anyOf", []) if "$ref" in s)
            schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
            assert schema.get("examples"), (method, path)
    runs_list = document["paths"]["/v1/tenants/{tenant_id}/runs"]["get"]
    assert "schedule" in {p["name"] for p in runs_list["parameters"]}


async def test_a_temporal_schedule_left_by_a_failed_create_is_replaced(
    world: World, client: Client
) -> None:
    tree = await published_tree(world)
    name = unique("orphan")
    await client.create_schedule(
        f"{world.tenant_a}:{name}",
        Schedule(
            action=ScheduleActionStartWorkflow(
                "SomethingElse", id=f"{world.tenant_a}:leftover", task_queue="nowhere"
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
            state=ScheduleState(paused=True),
        ),
    )
    view = await user_schedule(
        world,
        name=name,
        tree=tree,
        inputs={"team": "y"},
        **PAUSED_HOURLY,
    )
    assert view["inputs"] == {"team": "y"}
    described = await client.get_schedule_handle(f"{world.tenant_a}:{name}").describe()
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "DecisionTreeWorkflow"
    assert (
        await world.user.client.delete(f"{schedules_url(world.tenant_a)}/{name}")
    ).status_code == 204

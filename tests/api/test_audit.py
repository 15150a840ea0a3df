"""Audit log: every state-changing call recorded, readable by tenant admins only."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI

from api.db.models import AuditEvent
from api.services import Services
from tests.api.conftest import World


async def test_state_changes_are_recorded_with_who_what_when_and_request_id(world: World) -> None:
    response = await world.admin.client.post(
        f"/v1/tenants/{world.tenant_a}/invitations",
        json={"email": "audit-me@example.test", "role": "user"},
        headers={"X-Request-ID": "audit-test-0001"},
    )
    assert response.status_code == 201
    page = await world.admin.client.get(
        f"/v1/tenants/{world.tenant_a}/audit", params={"action": "invite"}
    )
    assert page.status_code == 200
    event = next(e for e in page.json()["events"] if e["request_id"] == "audit-test-0001")
    assert event["actor"] == f"user:{world.admin.user_id}"
    assert event["method"] == "POST"
    assert event["status_code"] == 201
    assert event["outcome"] == "success"
    assert event["target"] == response.json()["id"]
    assert event["client_ip"] == "127.0.0.1"
    assert event["occurred_at"]


async def test_refused_attempts_are_recorded_too(world: World) -> None:
    denied = await world.user.client.post(
        f"/v1/tenants/{world.tenant_a}/api-keys",
        json={"name": "sneaky"},
        headers={"X-Request-ID": "audit-test-denied"},
    )
    assert denied.status_code == 403
    page = await world.admin.client.get(
        f"/v1/tenants/{world.tenant_a}/audit", params={"outcome": "denied", "limit": 200}
    )
    event = next(e for e in page.json()["events"] if e["request_id"] == "audit-test-denied")
    assert event["actor"] == f"user:{world.user.user_id}"
    assert event["action"] == "create_key"


async def test_oversized_bodies_are_recorded_as_413(app: FastAPI, world: World) -> None:
    response = await world.admin.client.post(
        f"/v1/tenants/{world.tenant_a}/invitations",
        content=b"x" * (2 * 1024 * 1024),
        headers={"X-Request-ID": "audit-test-too-large", "content-type": "application/json"},
    )
    assert response.status_code == 413
    services: Services = app.state.services
    async with services.sessions() as session:
        event = await session.scalar(
            sa.select(AuditEvent).where(AuditEvent.request_id == "audit-test-too-large")
        )
    assert event is not None
    assert event.status_code == 413
    assert event.outcome == "failed"


async def test_failed_writes_after_a_read_are_recorded(world: World) -> None:
    """The handler's session must release its connection before the audit write
    (the embedded SQLite default has one): a refused change is recorded at once."""
    response = await world.admin.client.delete(
        f"/v1/tenants/{world.tenant_a}/members/{world.admin.user_id}",
        headers={"X-Request-ID": "audit-test-last-admin"},
    )
    assert response.status_code == 409
    page = await world.admin.client.get(
        f"/v1/tenants/{world.tenant_a}/audit", params={"outcome": "failed", "limit": 200}
    )
    assert any(e["request_id"] == "audit-test-last-admin" for e in page.json()["events"])


async def test_reads_are_not_audited(world: World) -> None:
    await world.admin.client.get(
        f"/v1/tenants/{world.tenant_a}/members", headers={"X-Request-ID": "audit-test-read"}
    )
    page = await world.admin.client.get(f"/v1/tenants/{world.tenant_a}/audit?limit=200")
    assert all(e["request_id"] != "audit-test-read" for e in page.json()["events"])


async def test_only_admins_of_the_tenant_read_it(world: World) -> None:
    path = f"/v1/tenants/{world.tenant_a}/audit"
    assert (await world.user.client.get(path)).status_code == 403
    assert (await world.read_only.client.get(path)).status_code == 403
    assert (await world.outsider.client.get(path)).status_code == 404
    assert (await world.operator.client.get(path)).status_code == 404
    assert (await world.anonymous.get(path)).status_code == 401
    other = await world.outsider.client.get(f"/v1/tenants/{world.tenant_b}/audit?limit=200")
    assert other.status_code == 200
    assert all(e["actor"] != f"user:{world.admin.user_id}" for e in other.json()["events"])


async def test_pagination_walks_backwards(world: World) -> None:
    for i in range(3):
        await world.admin.client.put(
            f"/v1/tenants/{world.tenant_a}/secrets/page-{i}", json={"value": "v"}
        )
    first = (await world.admin.client.get(f"/v1/tenants/{world.tenant_a}/audit?limit=2")).json()
    assert len(first["events"]) == 2
    assert first["next_before"] == first["events"][-1]["id"]
    second = (
        await world.admin.client.get(
            f"/v1/tenants/{world.tenant_a}/audit?limit=2&before={first['next_before']}"
        )
    ).json()
    assert all(e["id"] < first["next_before"] for e in second["events"])

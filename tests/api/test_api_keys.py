"""API keys: shown once, hashed, scoped, expiring, rotated with a grace period."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta

from fastapi import FastAPI

from api.db.models import ApiKey, Role, utcnow
from api.services import Services
from tests.api.conftest import World, client_for, create_api_key


async def _get_tenant(app: FastAPI, key: str, tenant: object) -> int:
    async with client_for(app, key) as client:
        return (await client.get(f"/v1/tenants/{tenant}")).status_code


async def test_key_is_shown_once_and_stored_as_sha256(
    app: FastAPI, services: Services, world: World
) -> None:
    created = await create_api_key(world)
    raw = str(created["key"])
    assert raw.startswith(str(created["prefix"]) + "_")
    listing = await world.admin.client.get(f"/v1/tenants/{world.tenant_a}/api-keys")
    assert raw not in listing.text
    async with services.sessions() as session:
        row = await session.get(ApiKey, uuid.UUID(str(created["id"])))
    assert row is not None
    assert row.secret_hash == hashlib.sha256(raw.encode()).digest()
    assert await _get_tenant(app, raw, world.tenant_a) == 200


async def test_key_acts_with_its_role_and_tenant_only(app: FastAPI, world: World) -> None:
    raw = str((await create_api_key(world, role="read-only"))["key"])
    async with client_for(app, raw) as client:
        assert (await client.get(f"/v1/tenants/{world.tenant_a}/settings")).status_code == 200
        assert (
            await client.put(f"/v1/tenants/{world.tenant_a}/settings", json={})
        ).status_code == 403
        assert (await client.get(f"/v1/tenants/{world.tenant_b}")).status_code == 404
        me = (await client.get("/v1/me")).json()
    assert me["kind"] == "api_key"
    assert me["memberships"][0]["role"] == "read-only"


async def test_scopes_narrow_the_role(app: FastAPI, world: World) -> None:
    raw = str((await create_api_key(world, role="admin", scopes=["tenant:read"]))["key"])
    assert await _get_tenant(app, raw, world.tenant_a) == 200
    async with client_for(app, raw) as client:
        assert (await client.get(f"/v1/tenants/{world.tenant_a}/members")).status_code == 403


async def test_unknown_scope_is_a_validation_error(world: World) -> None:
    response = await world.admin.client.post(
        f"/v1/tenants/{world.tenant_a}/api-keys", json={"name": "x", "scopes": ["root:all"]}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.scopes"


async def test_expired_key_fails(app: FastAPI, services: Services, world: World) -> None:
    async with services.sessions() as session:
        _, raw = await services.api_keys.create(
            session,
            name="old",
            created_by="test",
            tenant_id=world.tenant_a,
            role=Role.USER,
            expires_at=utcnow() - timedelta(seconds=1),
        )
        await session.commit()
    assert await _get_tenant(app, raw, world.tenant_a) == 401


async def test_rotation_keeps_the_old_key_for_the_grace_period_only(
    app: FastAPI, world: World
) -> None:
    created = await create_api_key(world)
    old = str(created["key"])
    assert await _get_tenant(app, old, world.tenant_a) == 200  # now cached on this replica
    response = await world.admin.client.post(
        f"/v1/tenants/{world.tenant_a}/api-keys/{created['id']}/rotate", json={"grace_seconds": 1}
    )
    assert response.status_code == 201, response.text
    new = str(response.json()["key"])
    assert new != old
    assert await _get_tenant(app, old, world.tenant_a) == 200, "old key must work during grace"
    assert await _get_tenant(app, new, world.tenant_a) == 200
    await asyncio.sleep(1.3)
    assert await _get_tenant(app, old, world.tenant_a) == 401, "old key must stop after grace"
    assert await _get_tenant(app, new, world.tenant_a) == 200


async def test_revoked_key_fails_at_once(app: FastAPI, world: World) -> None:
    created = await create_api_key(world)
    raw = str(created["key"])
    assert await _get_tenant(app, raw, world.tenant_a) == 200
    response = await world.admin.client.delete(
        f"/v1/tenants/{world.tenant_a}/api-keys/{created['id']}"
    )
    assert response.status_code == 204
    assert await _get_tenant(app, raw, world.tenant_a) == 401


async def test_forged_and_malformed_keys(app: FastAPI, world: World) -> None:
    created = await create_api_key(world)
    raw = str(created["key"])
    forged = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    for key in (forged, "tfk_short", "tfk_" + "0" * 16 + "_x", "tfk_" + "z" * 300):
        assert await _get_tenant(app, key, world.tenant_a) == 401, key


async def test_another_tenants_key_cannot_be_managed(services: Services, world: World) -> None:
    response = await world.outsider.client.post(
        f"/v1/tenants/{world.tenant_b}/api-keys", json={"name": "b-key"}
    )
    assert response.status_code == 201
    b_key_id = response.json()["id"]
    for method, suffix in (("DELETE", ""), ("POST", "/rotate")):
        r = await world.admin.client.request(
            method, f"/v1/tenants/{world.tenant_a}/api-keys/{b_key_id}{suffix}", json={}
        )
        assert r.status_code == 404, (method, r.text)
    async with services.sessions() as session:
        row = await session.get(ApiKey, uuid.UUID(b_key_id))
    assert row is not None
    assert row.revoked_at is None
    assert row.replaced_by is None

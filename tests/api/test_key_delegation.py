"""No principal mints, rotates or grants more than it holds; operators cannot join alone.

Each test is an attack: a narrowly scoped admin key trying to mint or rotate its way to
full admin, rotating a rotated key, and a platform operator inviting itself into a
tenant (by the members route, and by the tenant-creation invitations).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from api.auth.oidc import ExternalIdentity
from api.auth.provisioning import provision
from api.db.models import Membership, Role, User
from api.services import Services
from tests.api.conftest import World, client_for, create_actor, create_api_key


async def _key(world: World, **body: Any) -> dict[str, Any]:
    return await create_api_key(world, **{"role": "admin", **body})


def _keys_path(world: World, suffix: str = "") -> str:
    return f"/v1/tenants/{world.tenant_a}/api-keys{suffix}"


async def test_a_key_scoped_to_key_management_cannot_mint_an_admin_key(
    app: FastAPI, world: World
) -> None:
    manager = await _key(world, scopes=["api-keys:manage"])
    async with client_for(app, manager["key"]) as client:
        for body in (
            {"name": "escalate", "role": "admin"},
            {"name": "escalate", "role": "admin", "scopes": ["api-keys:manage", "secrets:write"]},
            {"name": "escalate", "role": "user"},
            {"name": "escalate", "role": "read-only", "scopes": ["runs:read"]},
        ):
            response = await client.post(_keys_path(world), json=body)
            assert response.status_code == 403, (body, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert "do not hold" in response.json()["detail"]
        within = await client.post(
            _keys_path(world), json={"name": "ok", "role": "admin", "scopes": ["api-keys:manage"]}
        )
        assert within.status_code == 201, within.text
        assert within.json()["scopes"] == ["api-keys:manage"]


async def test_a_scoped_key_grants_only_scopes_it_holds(app: FastAPI, world: World) -> None:
    scoped = await _key(world, scopes=["api-keys:manage", "runs:read", "trees:read"])
    async with client_for(app, scoped["key"]) as client:
        ok = await client.post(
            _keys_path(world), json={"name": "reader", "role": "user", "scopes": ["runs:read"]}
        )
        assert ok.status_code == 201, ok.text
        too_much = await client.post(
            _keys_path(world), json={"name": "starter", "role": "user", "scopes": ["runs:start"]}
        )
        assert too_much.status_code == 403
        assert "runs:start" in too_much.json()["detail"]


async def test_a_user_cannot_mint_above_its_role_even_with_a_role_key(
    app: FastAPI, world: World
) -> None:
    # A user-role member holds no api-keys:manage at all: the guard answers 403 first.
    response = await world.user.client.post(_keys_path(world), json={"name": "x", "role": "admin"})
    assert response.status_code == 403


async def test_a_scoped_key_cannot_rotate_or_revoke_another_admins_key(
    app: FastAPI, world: World
) -> None:
    victim = await _key(world)  # a full admin key created by the admin user
    manager = await _key(world, scopes=["api-keys:manage"])
    async with client_for(app, manager["key"]) as client:
        rotated = await client.post(_keys_path(world, f"/{victim['id']}/rotate"), json={})
        assert rotated.status_code == 403, rotated.text
        assert "key" not in rotated.json()
        revoked = await client.delete(_keys_path(world, f"/{victim['id']}"))
        assert revoked.status_code == 403
        # Its own keys it may manage: itself, and keys it created.
        body = {"name": "child", "role": "admin", "scopes": ["api-keys:manage"]}
        child = await client.post(_keys_path(world), json=body)
        assert child.status_code == 201
        assert (
            await client.post(_keys_path(world, f"/{child.json()['id']}/rotate"), json={})
        ).status_code == 201
    # The victim key still works and has no successor.
    async with client_for(app, victim["key"]) as client:
        assert (await client.get(f"/v1/tenants/{world.tenant_a}")).status_code == 200
    listing = (await world.admin.client.get(_keys_path(world))).json()["api_keys"]
    assert next(k for k in listing if k["id"] == victim["id"])["replaced_by"] is None


async def test_a_full_admin_may_rotate_any_key_of_the_tenant(world: World) -> None:
    other = await _key(world, scopes=["runs:read"])
    response = await world.admin.client.post(_keys_path(world, f"/{other['id']}/rotate"), json={})
    assert response.status_code == 201
    assert response.json()["scopes"] == ["runs:read"]


async def test_rotating_a_rotated_key_is_a_conflict(world: World) -> None:
    key = await _key(world, role="user")
    first = await world.admin.client.post(_keys_path(world, f"/{key['id']}/rotate"), json={})
    assert first.status_code == 201
    again = await world.admin.client.post(_keys_path(world, f"/{key['id']}/rotate"), json={})
    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == "application/problem+json"
    assert first.json()["id"] in again.json()["detail"]


async def test_a_scoped_admin_cannot_invite_or_promote_beyond_its_scopes(
    app: FastAPI, world: World, services: Services
) -> None:
    manager = await _key(world, scopes=["members:manage", "members:read"])
    async with client_for(app, manager["key"]) as client:
        invite = await client.post(
            f"/v1/tenants/{world.tenant_a}/invitations",
            json={"email": f"x-{uuid.uuid4().hex[:6]}@example.test", "role": "admin"},
        )
        assert invite.status_code == 403, invite.text
        promote = await client.put(
            f"/v1/tenants/{world.tenant_a}/members/{world.read_only.user_id}",
            json={"role": "admin"},
        )
        assert promote.status_code == 403
    async with services.sessions() as session:
        member = await session.get(Membership, (world.tenant_a, world.read_only.user_id))
    assert member is not None
    assert member.role == Role.READ_ONLY.value


async def test_an_operator_cannot_invite_itself_into_a_tenant(
    app: FastAPI, world: World, services: Services
) -> None:
    async with services.sessions() as session:
        operator = await session.get(User, world.operator.user_id)
        assert operator is not None
        email = operator.email
    response = await world.operator.client.post(
        f"/v1/tenants/{world.tenant_a}/invitations", json={"email": email, "role": "admin"}
    )
    assert response.status_code == 403, response.text
    assert "admin" in response.json()["detail"]


async def _operator(app: FastAPI, email: str) -> tuple[uuid.UUID, httpx.AsyncClient]:
    actor = await create_actor(app, f"op-{uuid.uuid4().hex[:6]}", {}, operator=True)
    services: Services = app.state.services
    async with services.sessions() as session:
        user = await session.get(User, actor.user_id)
        assert user is not None
        user.email = email
        await session.commit()
    return actor.user_id, actor.client


async def test_an_operator_invitation_to_an_operator_is_never_accepted(
    app: FastAPI, world: World, services: Services
) -> None:
    """Even a tenant created with the operator's own email as admin does not let it in."""
    email = f"op-{uuid.uuid4().hex[:8]}@example.test"
    created = await world.operator.client.post(
        "/v1/tenants",
        json={"slug": f"t-{uuid.uuid4().hex[:8]}", "name": "T", "admin_emails": [email]},
    )
    assert created.status_code == 201, created.text
    tenant_id = uuid.UUID(created.json()["id"])
    user_id, client = await _operator(app, email)
    identity = ExternalIdentity("corp", f"sub-{uuid.uuid4().hex}", email, True, "Op")
    async with services.sessions() as session:
        user, _ = await provision(session, identity)
        await session.commit()
        assert user.id == user_id
        assert await session.get(Membership, (tenant_id, user_id)) is None
    await client.aclose()


async def test_an_admins_invitation_lets_an_operator_join(
    app: FastAPI, world: World, services: Services
) -> None:
    email = f"op-{uuid.uuid4().hex[:8]}@example.test"
    user_id, client = await _operator(app, email)
    invited = await world.admin.client.post(
        f"/v1/tenants/{world.tenant_a}/invitations", json={"email": email, "role": "read-only"}
    )
    assert invited.status_code == 201, invited.text
    identity = ExternalIdentity("corp", f"sub-{uuid.uuid4().hex}", email, True, "Op")
    async with services.sessions() as session:
        await provision(session, identity)
        await session.commit()
        member = await session.get(Membership, (world.tenant_a, user_id))
    assert member is not None
    assert member.role == Role.READ_ONLY.value
    async with services.sessions() as session:
        await session.delete(await session.get(Membership, (world.tenant_a, user_id)))
        await session.commit()
    await client.aclose()

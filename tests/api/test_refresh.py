"""Refresh tokens rotate on every use; reuse revokes the family; logout revokes."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI

from api.auth.apikeys import hash_secret
from api.auth.sessions import TokenPair, start_session
from api.db.models import RefreshToken, User
from api.services import Services
from tests.api.conftest import World, client_for


async def _login(services: Services, world: World) -> TokenPair:
    async with services.sessions() as session:
        user = await session.get(User, world.user.user_id)
        assert user is not None
        pair = await start_session(session, services.tokens, services.refresh, user)
        await session.commit()
    return pair


async def _refresh(app: FastAPI, token: str) -> tuple[int, dict[str, object]]:
    async with client_for(app) as client:
        response = await client.post("/v1/auth/refresh", json={"refresh_token": token})
    return response.status_code, response.json()


async def test_refresh_rotates_and_the_new_access_token_works(
    app: FastAPI, services: Services, world: World
) -> None:
    pair = await _login(services, world)
    status, body = await _refresh(app, pair.refresh_token)
    assert status == 200, body
    assert body["refresh_token"] != pair.refresh_token
    async with client_for(app, str(body["access_token"])) as client:
        me = await client.get("/v1/me")
    assert me.status_code == 200
    assert me.json()["memberships"] == [{"tenant_id": str(world.tenant_a), "role": "user"}]


async def test_reusing_a_rotated_token_revokes_the_whole_family(
    app: FastAPI, services: Services, world: World
) -> None:
    pair = await _login(services, world)
    status, first = await _refresh(app, pair.refresh_token)
    assert status == 200
    status, second = await _refresh(app, str(first["refresh_token"]))
    assert status == 200

    # The attacker replays the original token: everything in the family dies.
    status, body = await _refresh(app, pair.refresh_token)
    assert status == 401, body
    status, _ = await _refresh(app, str(second["refresh_token"]))
    assert status == 401, "the legitimate holder's newest token must be revoked too"

    async with services.sessions() as session:
        family_id = await session.scalar(
            sa.select(RefreshToken.family_id).where(
                RefreshToken.token_hash == hash_secret(pair.refresh_token)
            )
        )
        family = (
            await session.scalars(
                sa.select(RefreshToken).where(RefreshToken.family_id == family_id)
            )
        ).all()
    assert len(family) == 3
    assert all(t.revoked_at is not None for t in family)


async def test_logout_revokes_the_session(app: FastAPI, services: Services, world: World) -> None:
    pair = await _login(services, world)
    async with client_for(app) as client:
        out = await client.post("/v1/auth/logout", json={"refresh_token": pair.refresh_token})
    assert out.status_code == 204
    status, _ = await _refresh(app, pair.refresh_token)
    assert status == 401


async def test_unknown_and_malformed_refresh_tokens(app: FastAPI) -> None:
    for token in ("tfr_unknown", "x" * 128, "tfr_" + "a" * 200):
        status, body = await _refresh(app, token)
        assert status in (401, 422), body
    async with client_for(app) as client:
        response = await client.post("/v1/auth/logout", json={"refresh_token": "tfr_nope"})
    assert response.status_code == 401


async def test_refresh_tokens_are_stored_hashed(services: Services, world: World) -> None:
    pair = await _login(services, world)
    async with services.sessions() as session:
        stored = (await session.scalars(sa.select(RefreshToken.token_hash))).all()
    assert all(len(h) == 32 for h in stored)
    assert all(pair.refresh_token.encode() not in h for h in stored)

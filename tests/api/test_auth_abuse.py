"""Authentication abuse is bounded and cheap; logout ends the session's access tokens.

Attacks as an attacker would run them, against apps on the suite's database: floods of
wrong API keys (from one address, and against one key prefix from many), repeats of one
wrong key, two replicas sharing counters, and access tokens used after logout.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from api.auth.apikeys import new_key
from api.auth.sessions import start_session
from api.db.models import Membership, Role, User, utcnow
from api.services import Services
from api.settings import Settings
from tests.api.conftest import client_for, create_tenant, settings_for

StartApp = Callable[[Settings], Awaitable[FastAPI]]


def _client(app: FastAPI, token: str, ip: str = "198.51.100.7") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 40000)),
        base_url="https://testserver",
        headers={"Authorization": f"Bearer {token}"},
    )


@contextmanager
def _count_key_lookups(services: Services) -> Iterator[list[str]]:
    """Every SQL statement that reads the api_keys table, while the block runs."""
    seen: list[str] = []

    def before(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if "FROM api_keys" in statement:
            seen.append(statement)

    engine = services.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def _limited(db_url: str, **overrides: Any) -> Settings:
    return settings_for(
        db_url,
        auth_failures_per_ip_per_minute=20,
        auth_failures_per_key_per_minute=8,
        **overrides,
    )


async def test_a_flood_of_wrong_keys_from_one_address_is_cut_off_early(
    db_url: str, start_app: StartApp
) -> None:
    app = await start_app(_limited(db_url))
    services: Services = app.state.services
    statuses: list[int] = []
    with _count_key_lookups(services) as lookups:
        for _ in range(300):
            async with _client(app, new_key()[1]) as client:
                response = await client.get("/v1/me")
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert 1 <= int(response.headers["retry-after"]) <= 60
                assert response.headers["content-type"] == "application/problem+json"
    assert statuses[:20] == [401] * 20
    assert set(statuses[20:]) == {429}, statuses[15:30]
    # Once over the limit, wrong keys cost no database lookup at all.
    assert len(lookups) == 21, len(lookups)
    # Another address is not affected.
    async with _client(app, new_key()[1], ip="203.0.113.9") as client:
        assert (await client.get("/v1/me")).status_code == 401


async def test_guessing_secrets_of_one_key_prefix_is_limited_across_addresses(
    db_url: str, start_app: StartApp
) -> None:
    app = await start_app(_limited(db_url))
    public_id = new_key()[0]
    statuses = []
    for n in range(12):
        guess = f"tfk_{public_id}_{uuid.uuid4().hex}"
        async with _client(app, guess, ip=f"192.0.2.{n + 1}") as client:
            statuses.append((await client.get("/v1/me")).status_code)
    assert statuses[:8] == [401] * 8
    assert set(statuses[8:]) == {429}


async def test_repeating_one_wrong_key_reads_the_database_once(
    db_url: str, start_app: StartApp
) -> None:
    app = await start_app(settings_for(db_url))
    services: Services = app.state.services
    wrong = new_key()[1]
    with _count_key_lookups(services) as lookups:
        for _ in range(25):
            async with _client(app, wrong) as client:
                assert (await client.get("/v1/me")).status_code == 401
    assert len(lookups) == 1


async def test_failure_counters_are_shared_by_replicas(db_url: str, start_app: StartApp) -> None:
    first = await start_app(_limited(db_url, rate_limit_backend="database"))
    second = await start_app(_limited(db_url, rate_limit_backend="database"))
    ip = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    for _ in range(20):
        async with _client(first, new_key()[1], ip=ip) as client:
            assert (await client.get("/v1/me")).status_code == 401
    async with _client(second, new_key()[1], ip=ip) as client:
        response = await client.get("/v1/me")
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1


async def _login(services: Services) -> tuple[str, str]:
    """A user in a fresh tenant with a new session: (access token, refresh token)."""
    tenant = await create_tenant(services, "abuse")
    async with services.sessions() as session:
        user = User(
            id=uuid.uuid4(),
            email=f"u-{uuid.uuid4().hex[:8]}@example.test",
            display_name="u",
            created_at=utcnow(),
        )
        session.add(user)
        await session.flush()
        session.add(Membership(tenant_id=tenant, user_id=user.id, role=Role.USER.value))
        pair = await start_session(session, services.tokens, services.refresh, user)
        await session.commit()
    return pair.access_token, pair.refresh_token


async def test_logout_revokes_the_access_token_on_every_replica(
    db_url: str, start_app: StartApp
) -> None:
    # Two replicas: same database, same signing keys (settings_for), separate memory.
    first = await start_app(settings_for(db_url, session_revocation_poll_seconds=0))
    second = await start_app(settings_for(db_url, session_revocation_poll_seconds=0))
    access, refresh = await _login(first.state.services)
    for replica in (first, second):
        async with client_for(replica, access) as client:
            assert (await client.get("/v1/me")).status_code == 200
    async with client_for(first) as client:
        response = await client.post("/v1/auth/logout", json={"refresh_token": refresh})
    assert response.status_code == 204
    for replica in (first, second):
        async with client_for(replica, access) as client:
            response = await client.get("/v1/me")
        assert response.status_code == 401, response.text
        assert response.json()["detail"] == "invalid or expired credentials"


async def test_refresh_reuse_revokes_the_sessions_access_tokens(
    db_url: str, start_app: StartApp
) -> None:
    app = await start_app(settings_for(db_url, session_revocation_poll_seconds=0))
    access, refresh = await _login(app.state.services)
    async with client_for(app) as client:
        rotated = await client.post("/v1/auth/refresh", json={"refresh_token": refresh})
        assert rotated.status_code == 200
        new_access = rotated.json()["access_token"]
        reused = await client.post("/v1/auth/refresh", json={"refresh_token": refresh})
        assert reused.status_code == 401
    for token in (access, new_access):
        async with client_for(app, token) as client:
            assert (await client.get("/v1/me")).status_code == 401


async def test_other_sessions_of_the_user_keep_working(db_url: str, start_app: StartApp) -> None:
    app = await start_app(settings_for(db_url, session_revocation_poll_seconds=0))
    services: Services = app.state.services
    access, refresh = await _login(services)
    other_access, _ = await _login(services)
    async with client_for(app) as client:
        assert (
            await client.post("/v1/auth/logout", json={"refresh_token": refresh})
        ).status_code == 204
    async with client_for(app, other_access) as client:
        assert (await client.get("/v1/me")).status_code == 200
    async with client_for(app, access) as client:
        assert (await client.get("/v1/me")).status_code == 401

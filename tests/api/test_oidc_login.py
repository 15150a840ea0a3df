"""OIDC login end to end: the real authlib code + PKCE flow against a real provider process
(oauth2-mock-server), over real HTTP, landing a session with the invited membership."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from api.db.models import AuditEvent, Invitation, LoginState, utcnow
from api.services import Services
from api.settings import Settings
from tests.api.conftest import create_tenant, live_server
from treeflow.devserver import free_port

PROXY = {"X-Forwarded-Proto": "https"}  # the test plays the TLS-terminating proxy


async def _login(http: httpx.AsyncClient, base: str, provider: str) -> tuple[httpx.Response, str]:
    start = await http.get(f"{base}/v1/auth/login/{provider}", headers=PROXY)
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    query = parse_qs(urlparse(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"][0]
    assert query["nonce"][0]
    at_provider = await http.get(authorize)
    assert at_provider.status_code == 302, at_provider.text
    callback = at_provider.headers["location"]
    assert callback.startswith(f"{base}/v1/auth/callback/{provider}?")
    return await http.get(callback, headers=PROXY), callback


@pytest.fixture
async def provider_app(
    start_app: Callable[[Settings], Awaitable[FastAPI]],
    make_settings: Callable[..., Settings],
    oidc_issuer: str,
) -> tuple[FastAPI, str, int, str]:
    """An app (behind the test's proxy) with one fresh provider: app, provider, port, URL."""
    provider = f"mock{uuid.uuid4().hex[:8]}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = await start_app(
        make_settings(
            public_url=base,
            trusted_proxies=["127.0.0.1/32"],
            oidc_providers=[
                {
                    "name": provider,
                    "kind": "oidc",
                    "client_id": "treeflow-test",
                    "issuer": oidc_issuer,
                }
            ],
        )
    )
    return app, provider, port, base


async def test_oidc_login_provisions_the_user_and_lands_a_session(
    provider_app: tuple[FastAPI, str, int, str],
) -> None:
    app, provider, port, base = provider_app
    services: Services = app.state.services
    tenant = await create_tenant(services, "oidc")
    async with services.sessions() as session:
        session.add(
            Invitation(
                tenant_id=tenant,
                provider=provider,
                subject="johndoe",  # the subject oauth2-mock-server reports
                role="user",
                created_by="test",
                created_at=utcnow(),
                expires_at=utcnow().replace(year=utcnow().year + 1),
            )
        )
        await session.commit()

    async with live_server(app, port), httpx.AsyncClient(timeout=10) as http:
        providers = await http.get(f"{base}/v1/auth/providers", headers=PROXY)
        assert providers.json()["providers"] == [
            {"name": provider, "login_url": f"/v1/auth/login/{provider}"}
        ]
        landed, callback = await _login(http, base, provider)
        assert landed.status_code == 200, landed.text
        tokens = landed.json()
        auth = {**PROXY, "Authorization": f"Bearer {tokens['access_token']}"}
        me = (await http.get(f"{base}/v1/me", headers=auth)).json()
        assert me["memberships"] == [{"tenant_id": str(tenant), "role": "user"}]
        assert (await http.get(f"{base}/v1/tenants/{tenant}", headers=auth)).status_code == 200

        replay = await http.get(callback, headers=PROXY)
        assert replay.status_code == 401, "a login state is single use"

        refreshed = await http.post(
            f"{base}/v1/auth/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            headers=PROXY,
        )
        assert refreshed.status_code == 200

        again, _ = await _login(http, base, provider)
        assert again.status_code == 200
        assert again.json()["user_id"] == tokens["user_id"], "second login finds the same user"

        forged = await http.get(
            f"{base}/v1/auth/callback/{provider}?code=x&state=not-issued", headers=PROXY
        )
        assert forged.status_code == 401
        assert (await http.get(f"{base}/v1/auth/login/unknown", headers=PROXY)).status_code == 404

    async with services.sessions() as session:
        events = (
            await session.scalars(
                sa.select(AuditEvent).where(AuditEvent.path == f"/v1/auth/callback/{provider}")
            )
        ).all()
        pending = await session.scalar(sa.select(sa.func.count()).select_from(LoginState))
    outcomes = [(e.actor, e.outcome) for e in events]
    assert (f"user:{tokens['user_id']}", "success") in outcomes
    assert ("anonymous", "denied") in outcomes
    assert pending == 0


async def test_a_studio_login_lands_on_the_studio_page_and_redeems_there(
    provider_app: tuple[FastAPI, str, int, str],
) -> None:
    app, provider, port, base = provider_app
    async with live_server(app, port), httpx.AsyncClient(timeout=10) as http:
        start = await http.get(f"{base}/v1/auth/login/{provider}?client=studio", headers=PROXY)
        assert start.status_code == 302, start.text
        studio_page = f"{base}/studio/auth/callback/{provider}"
        assert parse_qs(urlparse(start.headers["location"]).query)["redirect_uri"] == [studio_page]
        at_provider = await http.get(start.headers["location"])
        landing = at_provider.headers["location"]
        assert landing.startswith(studio_page + "?"), landing
        # The Studio page hands the code and state to the API's callback, which redeems the
        # code with the Studio's URL (a provider refuses a code sent with another URL).
        query = urlparse(landing).query
        landed = await http.get(f"{base}/v1/auth/callback/{provider}?{query}", headers=PROXY)
        assert landed.status_code == 200, landed.text
        assert landed.json()["refresh_token"].startswith("tfr_")

        wrong = await http.get(f"{base}/v1/auth/login/{provider}?client=mobile", headers=PROXY)
        assert wrong.status_code == 422
        assert wrong.headers["content-type"].startswith("application/problem+json")
        assert "client" in wrong.text

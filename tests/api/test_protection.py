"""Rate limits, HTTPS enforcement, CORS, security headers, body limits, problem+json errors,
deprecation headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from email.utils import parsedate_to_datetime

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from api.app import mount
from api.deprecation import deprecated_since
from api.rbac import Permission, requires
from api.settings import Settings
from tests.api.conftest import World, client_for, create_actor

StartApp = Callable[[Settings], Awaitable[FastAPI]]
MakeSettings = Callable[..., Settings]


async def test_ip_rate_limit_answers_429_with_retry_after(
    start_app: StartApp, make_settings: MakeSettings
) -> None:
    app = await start_app(make_settings(rate_limit_ip_per_minute=5))
    async with client_for(app) as client:
        statuses = [(await client.get("/v1/health")).status_code for _ in range(5)]
        limited = await client.get("/v1/health")
    assert statuses == [200] * 5
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["type"].endswith("/rate-limited")


async def test_ip_limit_uses_the_forwarded_address_only_from_trusted_proxies(
    start_app: StartApp, make_settings: MakeSettings
) -> None:
    app = await start_app(
        make_settings(rate_limit_ip_per_minute=2, trusted_proxies=["127.0.0.0/8"])
    )
    async with client_for(app) as client:
        for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
            headers = {"X-Forwarded-For": ip}
            assert (await client.get("/v1/health", headers=headers)).status_code == 200
            assert (await client.get("/v1/health", headers=headers)).status_code == 200
            assert (await client.get("/v1/health", headers=headers)).status_code == 429


async def test_per_user_rate_limit(start_app: StartApp, make_settings: MakeSettings) -> None:
    app = await start_app(make_settings(rate_limit_principal_per_minute=3))
    alice = await create_actor(app, "alice", {})
    bob = await create_actor(app, "bob", {})
    for _ in range(3):
        assert (await alice.client.get("/v1/me")).status_code == 200
    limited = await alice.client.get("/v1/me")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert (await bob.client.get("/v1/me")).status_code == 200
    await alice.client.aclose()
    await bob.client.aclose()


async def test_database_rate_limit_is_shared_between_replicas(
    start_app: StartApp, make_settings: MakeSettings
) -> None:
    settings = make_settings(rate_limit_backend="database", rate_limit_principal_per_minute=4)
    replica_1 = await start_app(settings)
    replica_2 = await start_app(settings)
    actor = await create_actor(replica_1, "shared", {})
    async with client_for(replica_2, actor.token) as other:
        assert (await actor.client.get("/v1/me")).status_code == 200
        assert (await other.get("/v1/me")).status_code == 200
        assert (await actor.client.get("/v1/me")).status_code == 200
        assert (await other.get("/v1/me")).status_code == 200
        limited = await other.get("/v1/me")
    assert limited.status_code == 429
    assert "retry-after" in limited.headers
    await actor.client.aclose()


async def test_plain_http_is_redirected_or_refused(app: FastAPI, world: World) -> None:
    async with client_for(app, world.admin.token, base_url="http://testserver") as client:
        get = await client.get("/v1/me?x=1")
        post = await client.post(f"/v1/tenants/{world.tenant_a}/api-keys", json={"name": "x"})
        health = await client.get("/v1/health")
    assert get.status_code == 308
    assert get.headers["location"] == "https://treeflow.test/v1/me?x=1"
    assert post.status_code == 403
    assert post.json()["type"].endswith("/https-required")
    assert health.status_code == 200, "probes stay on plain HTTP"
    assert "strict-transport-security" not in health.headers


async def test_forwarded_proto_is_believed_only_from_a_trusted_proxy(
    start_app: StartApp, make_settings: MakeSettings
) -> None:
    headers = {"X-Forwarded-Proto": "https"}
    untrusting = await start_app(make_settings())
    trusting = await start_app(make_settings(trusted_proxies=["127.0.0.1/32"]))
    async with client_for(untrusting, base_url="http://testserver", headers=headers) as c:
        assert (await c.get("/.well-known/jwks.json")).status_code == 308
    async with client_for(trusting, base_url="http://testserver", headers=headers) as c:
        response = await c.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_dev_mode_allows_http_explicitly(
    start_app: StartApp, make_settings: MakeSettings
) -> None:
    app = await start_app(make_settings(dev_mode=True))
    async with client_for(app, base_url="http://testserver") as client:
        response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers


async def test_security_headers_and_request_id(world: World) -> None:
    response = await world.admin.client.get("/v1/me", headers={"X-Request-ID": "req-12345678"})
    assert response.headers["x-request-id"] == "req-12345678"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["strict-transport-security"].startswith("max-age=63072000")
    bogus = await world.admin.client.get("/v1/me", headers={"X-Request-ID": "bad id<script>"})
    assert bogus.headers["x-request-id"] != "bad id<script>"
    assert len(bogus.headers["x-request-id"]) == 32


async def test_cors_allow_list(start_app: StartApp, make_settings: MakeSettings) -> None:
    app = await start_app(make_settings(cors_allow_origins=["https://ui.treeflow.test"]))
    async with client_for(app) as client:
        allowed = await client.options(
            "/v1/me",
            headers={
                "Origin": "https://ui.treeflow.test",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        denied = await client.get("/v1/health", headers={"Origin": "https://evil.test"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://ui.treeflow.test"
    assert "access-control-allow-origin" not in denied.headers


async def test_request_body_limit(start_app: StartApp, make_settings: MakeSettings) -> None:
    app = await start_app(make_settings(max_request_bytes=2048))
    body = b'{"refresh_token": "' + b"a" * 4096 + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 512):
            yield body[i : i + 512]

    async with client_for(app) as client:
        declared = await client.post(
            "/v1/auth/refresh", content=body, headers={"content-type": "application/json"}
        )
        streamed = await client.post(
            "/v1/auth/refresh", content=chunks(), headers={"content-type": "application/json"}
        )
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"


async def test_validation_errors_name_the_field_and_do_not_echo_input(world: World) -> None:
    response = await world.admin.client.post(
        f"/v1/tenants/{world.tenant_a}/invitations",
        json={"email": "not-an-email-SENTINEL", "role": "overlord"},
    )
    assert response.status_code == 422
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in body["errors"]} == {"body.email", "body.role"}
    assert "SENTINEL" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/nope", 404),
        ("DELETE", "/v1/health", 405),
        ("GET", "/v1/tenants/not-a-uuid", 404),
    ],
)
async def test_framework_errors_are_problems(
    world: World, method: str, path: str, status: int
) -> None:
    response = await world.admin.client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


async def test_malformed_json_is_a_422_not_a_500(world: World) -> None:
    response = await world.admin.client.post(
        f"/v1/tenants/{world.tenant_a}/invitations",
        content=b'{"email": ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422


async def test_unhandled_errors_leak_nothing(
    start_app: StartApp, make_settings: MakeSettings
) -> None:
    app = await start_app(make_settings())
    router = APIRouter()

    @router.get("/v1/boom", dependencies=[requires(Permission.PUBLIC)])
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    mount(app, router)
    async with client_for(app) as client:
        response = await client.get("/v1/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_deprecated_route_announces_its_sunset(app: FastAPI, world: World) -> None:
    response = await world.admin.client.get("/v1/whoami")
    assert response.status_code == 200
    assert response.headers["deprecation"].startswith("@")
    sunset = parsedate_to_datetime(response.headers["sunset"])
    assert sunset.year == 2027
    assert response.headers["link"] == '</v1/me>; rel="successor-version"'
    assert app.openapi()["paths"]["/v1/whoami"]["get"]["deprecated"] is True
    current = await world.admin.client.get("/v1/me")
    assert "deprecation" not in current.headers


async def test_retired_route_answers_410(start_app: StartApp, make_settings: MakeSettings) -> None:
    app = await start_app(make_settings())
    router = APIRouter()

    @router.get("/v1/retired", deprecated=True, dependencies=[requires(Permission.PUBLIC)])
    async def retired(
        _marker: None = deprecated_since(date(2020, 1, 1), sunset=date(2020, 6, 1)),
    ) -> dict[str, str]:
        return {}

    mount(app, router)
    async with client_for(app) as client:
        response = await client.get("/v1/retired")
    assert response.status_code == 410
    assert response.headers["content-type"] == "application/problem+json"
    assert "sunset" in response.headers


async def test_openapi_declares_permissions_security_and_examples(app: FastAPI) -> None:
    schema = app.openapi()
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert all("x-permission" in op for op in operations)
    secured = [op for op in operations if op["x-permission"] != "public"]
    assert all(op.get("security") == [{"bearer": []}] for op in secured)
    assert "examples" in schema["components"]["schemas"]["TenantCreate"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://t") as c:
        assert (await c.get("/openapi.json")).status_code == 200

"""The RBAC matrix, generated from the app's route table.

Every route x every role (anonymous, read-only, user, admin, platform operator) x the
caller's own tenant and another tenant gets the expected answer. The expectations come
from ``SPEC`` below, written by hand: a route whose permission is missing from it, or a
route that declares no permission, fails this test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from starlette.types import Receive, Scope, Send

from api.app import create_app
from api.db.models import Tenant
from api.rbac import (
    OPERATOR_TENANT_GRANTS,
    Permission,
    RouteInfo,
    api_routes,
    check_route_policies,
    route_permissions,
)
from api.services import Services
from api.settings import Settings
from tests.api.conftest import World, client_for

P = Permission
READ_ONLY = {"read-only", "user", "admin"}
USER_UP = {"user", "admin"}
ADMIN = {"admin"}

# Which tenant roles hold each tenant permission: the specification under test.
SPEC: dict[Permission, set[str]] = {
    P.TENANT_READ: READ_ONLY,
    P.SETTINGS_READ: READ_ONLY,
    P.MEMBERS_READ: READ_ONLY,
    P.TREES_READ: READ_ONLY,
    P.TEMPLATES_READ: READ_ONLY,
    P.TOOLS_READ: READ_ONLY,
    P.RUNS_READ: READ_ONLY,
    P.SCHEDULES_READ: READ_ONLY,
    P.SECRETS_READ: USER_UP,
    P.TREES_WRITE: USER_UP,
    P.TREES_PUBLISH: USER_UP,
    P.TEMPLATES_INSTANTIATE: USER_UP,
    P.RUNS_START: USER_UP,
    P.RUNS_SIGNAL: USER_UP,
    P.RUNS_CANCEL: USER_UP,
    P.SCHEDULES_WRITE: USER_UP,
    P.TENANT_WRITE: ADMIN,
    P.SETTINGS_WRITE: ADMIN,
    P.MEMBERS_MANAGE: ADMIN,
    P.API_KEYS_MANAGE: ADMIN,
    P.SECRETS_WRITE: ADMIN,
    P.AUDIT_READ: ADMIN,
    P.TREES_DELETE: ADMIN,
    P.FLAGS_READ: ADMIN,
    P.TOOLS_WRITE: ADMIN,
}
OPERATOR_IN_ANY_TENANT = {
    P.TENANT_READ,
    P.SETTINGS_READ,
    P.SETTINGS_WRITE,
    P.MEMBERS_READ,
    P.MEMBERS_MANAGE,
}
ROLES = ["anonymous", "read-only", "user", "admin", "operator"]
ALLOWED = "allowed"


def _route_table() -> list[tuple[str, str]]:
    app = create_app(Settings(dev_mode=True, database_url="sqlite+aiosqlite:///:memory:"))
    return sorted((m, r.path) for r in api_routes(app) for m in sorted(r.methods or ()))


ROUTES = _route_table()


def expected(permission: Permission, role: str, own_tenant: bool) -> int | str:
    """The answer the guard must give; ALLOWED means the handler ran."""
    if permission is P.PUBLIC:
        return ALLOWED
    if role == "anonymous":
        return 401
    if permission is P.SELF:
        return ALLOWED
    if permission.value.startswith("platform:"):
        return ALLOWED if role == "operator" else 403
    if role == "operator":
        return ALLOWED if permission in OPERATOR_IN_ANY_TENANT else 404
    if not own_tenant:
        return 404
    return ALLOWED if role in SPEC[permission] else 403


def _find(app: FastAPI, method: str, path: str) -> RouteInfo:
    return next(r for r in api_routes(app) if r.path == path and method in (r.methods or ()))


def _url(path: str, tenant: uuid.UUID) -> str:
    values = {"tenant_id": str(tenant), "provider": "nope", "name": "matrix-secret"}
    out = path
    for part in [p.strip("{}") for p in path.split("/") if p.startswith("{")]:
        out = out.replace("{" + part + "}", values.get(part, str(uuid.uuid4())))
    return out


@pytest.fixture(autouse=True)
async def keep_tenant_a_settings(world: World, services: Services) -> AsyncIterator[None]:
    """The matrix PUTs `{}` to tenant A's settings as its admin, which resets them; put back
    what the shared world set up (its open-run quota), so later modules see the same A."""
    async with services.sessions() as session:
        tenant = await session.get(Tenant, world.tenant_a)
        assert tenant is not None
        before = tenant.settings
    yield
    async with services.sessions() as session:
        await session.execute(
            sa.update(Tenant).where(Tenant.id == world.tenant_a).values(settings=before)
        )
        await session.commit()
    services.tenant_settings.invalidate(world.tenant_a)


def test_the_route_table_is_enumerated() -> None:
    assert len(ROUTES) >= 30, ROUTES
    assert ("GET", "/v1/tenants/{tenant_id}/audit") in ROUTES


def test_spec_covers_every_tenant_permission() -> None:
    tenant_perms = {p for p in Permission if p.scope.value == "tenant"}
    assert set(SPEC) == tenant_perms, "add new permissions to SPEC (and review who holds them)"
    assert set(OPERATOR_TENANT_GRANTS) == OPERATOR_IN_ANY_TENANT


def test_a_route_without_a_permission_is_refused() -> None:
    app = create_app(Settings(dev_mode=True, database_url="sqlite+aiosqlite:///:memory:"))
    router = APIRouter()

    @router.get("/v1/unguarded")
    async def unguarded() -> dict[str, str]:
        return {}

    app.include_router(router)
    with pytest.raises(RuntimeError, match="unguarded"):
        check_route_policies(app)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_rbac_matrix(app: FastAPI, world: World, method: str, path: str) -> None:
    route = _find(app, method, path)
    permissions = route_permissions(route)
    assert len(permissions) == 1, f"{method} {path} must declare exactly one permission"
    permission = permissions[0]
    assert permission.scope.value != "tenant" or permission in SPEC

    seen: dict[str, Any] = {}

    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)
        seen["access"] = scope.get("state", {}).get("access")

    tokens = {r: (world.actors[r].token if r != "anonymous" else None) for r in ROLES}
    mismatches: list[str] = []
    for role in ROLES:
        for own in (True, False):
            seen.clear()
            tenant = world.tenant_a if own else world.tenant_b
            async with client_for(spy, tokens[role]) as client:  # type: ignore[arg-type]
                kwargs: dict[str, Any] = {}
                if method in ("POST", "PUT", "PATCH"):
                    kwargs["json"] = {}
                response = await client.request(method, _url(path, tenant), **kwargs)
            want = expected(permission, role, own)
            ran = seen.get("access") is not None
            got: int | str = ALLOWED if ran else response.status_code
            if response.status_code >= 500:
                got = f"server error {response.status_code}"
            if want != got:
                mismatches.append(f"{role}/{'own' if own else 'other'}: want {want}, got {got}")
            if not ran:
                assert response.headers["content-type"] == "application/problem+json"
    assert not mismatches, f"{method} {path} ({permission}): " + "; ".join(mismatches)


TENANT_PERMISSIONS = sorted((p for p in Permission if p.scope.value == "tenant"), key=str)


@pytest.fixture(scope="session")
async def scoped_keys(app: FastAPI, world: World) -> dict[Permission, str]:
    """One admin API key of tenant A per tenant permission, scoped to exactly that one."""
    from api.db.models import Role

    services = app.state.services
    keys: dict[Permission, str] = {}
    async with services.sessions() as session:
        for permission in TENANT_PERMISSIONS:
            _, raw = await services.api_keys.create(
                session,
                name=f"matrix-{permission.value}",
                created_by="test",
                tenant_id=world.tenant_a,
                role=Role.ADMIN,
                scopes=[permission.value],
            )
            keys[permission] = raw
        await session.commit()
    return keys


def expected_scoped(route_permission: Permission, key_scope: Permission) -> int | str:
    """An admin key scoped to ``key_scope`` may use exactly the routes of that permission."""
    if route_permission is P.PUBLIC or route_permission is P.SELF:
        return ALLOWED
    if route_permission.value.startswith("platform:"):
        return 403
    return ALLOWED if route_permission is key_scope else 403


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_rbac_matrix_of_scoped_keys(
    app: FastAPI, world: World, scoped_keys: dict[Permission, str], method: str, path: str
) -> None:
    """Every route x every key scope: a scoped key reaches only its scope's routes."""
    permission = route_permissions(_find(app, method, path))[0]
    seen: dict[str, Any] = {}

    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)
        seen["access"] = scope.get("state", {}).get("access")

    mismatches: list[str] = []
    for key_scope, raw in scoped_keys.items():
        seen.clear()
        async with client_for(spy, raw) as client:  # type: ignore[arg-type]
            kwargs: dict[str, Any] = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            response = await client.request(method, _url(path, world.tenant_a), **kwargs)
        want = expected_scoped(permission, key_scope)
        got: int | str = ALLOWED if seen.get("access") is not None else response.status_code
        if response.status_code >= 500:
            got = f"server error {response.status_code}"
        if want != got:
            mismatches.append(f"scope {key_scope.value}: want {want}, got {got}")
    assert not mismatches, f"{method} {path} ({permission}): " + "; ".join(mismatches)

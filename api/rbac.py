"""Role-based access control, enforced in one place: the :func:`requires` route dependency.

Every route declares exactly one :class:`Permission`. The guard authenticates the caller,
applies per-caller and per-tenant rate limits, resolves the tenant from the ``tenant_id``
path parameter, and answers:

* 401 when the caller is not authenticated (any non-public permission);
* 404 when the tenant is not one the caller belongs to (never 403: no existence leak);
* 403 when the caller's role in the tenant (or its API key's scopes) lacks the permission.

Future routes (trees, templates, tools, runs) plug in by declaring a permission::

    @router.post("/tenants/{tenant_id}/runs")
    async def start_run(access: Annotated[Access, requires(Permission.RUNS_START)], ...): ...
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any, Protocol, cast

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute

from api.auth.principal import Principal
from api.db.models import Role
from api.problems import forbidden, not_found, too_many_requests
from foundation.telemetry.logs import add_request_fields


class Scope(enum.StrEnum):
    """Where a permission applies."""

    PUBLIC = "public"  # no authentication
    AUTHENTICATED = "authenticated"  # any authenticated caller, no tenant
    PLATFORM = "platform"  # platform operators only
    TENANT = "tenant"  # inside the tenant named by the {tenant_id} path parameter


class Permission(enum.StrEnum):
    """Every permission a route can declare. ``scope`` says how it is checked."""

    PUBLIC = "public"
    SELF = "self"

    PLATFORM_TENANTS_CREATE = "platform:tenants:create"
    PLATFORM_TENANTS_MANAGE = "platform:tenants:manage"

    TENANT_READ = "tenant:read"
    TENANT_WRITE = "tenant:write"
    SETTINGS_READ = "settings:read"
    SETTINGS_WRITE = "settings:write"
    MEMBERS_READ = "members:read"
    MEMBERS_MANAGE = "members:manage"
    API_KEYS_MANAGE = "api-keys:manage"
    SECRETS_READ = "secrets:read"
    SECRETS_WRITE = "secrets:write"
    AUDIT_READ = "audit:read"
    FLAGS_READ = "flags:read"

    # Declared now for the resources built on this foundation.
    TREES_READ = "trees:read"
    TREES_WRITE = "trees:write"
    TREES_PUBLISH = "trees:publish"
    TREES_DELETE = "trees:delete"
    TEMPLATES_READ = "templates:read"
    TEMPLATES_INSTANTIATE = "templates:instantiate"
    TOOLS_READ = "tools:read"
    TOOLS_WRITE = "tools:write"
    RUNS_READ = "runs:read"
    RUNS_START = "runs:start"
    RUNS_SIGNAL = "runs:signal"
    RUNS_CANCEL = "runs:cancel"
    SCHEDULES_READ = "schedules:read"
    SCHEDULES_WRITE = "schedules:write"
    """Create, change, pause, resume, trigger, backfill and delete schedules."""

    @property
    def scope(self) -> Scope:
        """How this permission is checked."""
        if self is Permission.PUBLIC:
            return Scope.PUBLIC
        if self is Permission.SELF:
            return Scope.AUTHENTICATED
        if self.value.startswith("platform:"):
            return Scope.PLATFORM
        return Scope.TENANT


P = Permission
_READ_ONLY = frozenset(
    {
        P.TENANT_READ,
        P.SETTINGS_READ,
        P.MEMBERS_READ,
        P.TREES_READ,
        P.TEMPLATES_READ,
        P.TOOLS_READ,
        P.RUNS_READ,
        P.SCHEDULES_READ,
    }
)
_USER = _READ_ONLY | {
    P.SECRETS_READ,
    P.TREES_WRITE,
    P.TREES_PUBLISH,
    P.TEMPLATES_INSTANTIATE,
    P.RUNS_START,
    P.RUNS_SIGNAL,
    P.RUNS_CANCEL,
    P.SCHEDULES_WRITE,
}
_ADMIN = frozenset(p for p in Permission if p.scope is Scope.TENANT)

ROLE_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.READ_ONLY: _READ_ONLY,
    Role.USER: frozenset(_USER),
    Role.ADMIN: _ADMIN,
}
"""The policy table: which tenant permissions each role holds."""

OPERATOR_TENANT_GRANTS: frozenset[Permission] = frozenset(
    {P.TENANT_READ, P.SETTINGS_READ, P.SETTINGS_WRITE, P.MEMBERS_READ, P.MEMBERS_MANAGE}
)
"""Tenant permissions platform operators hold in every tenant (configuration, never data)."""


def role_allows(role: Role, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``."""
    return permission in ROLE_GRANTS[role]


@dataclass(frozen=True, slots=True)
class Access:
    """What the guard established for this request."""

    permission: Permission
    principal: Principal | None
    tenant_id: uuid.UUID | None = None
    role: Role | None = None

    @property
    def actor(self) -> Principal:
        """The authenticated caller (guaranteed for every non-public permission)."""
        assert self.principal is not None, "public routes have no actor"
        return self.principal


def _granted(state: dict[str, Any], access: Access) -> Access:
    state["access"] = access
    if access.principal is not None:  # every log line of this request says who and where
        add_request_fields(
            user_id=access.principal.subject,
            **({"tenant_id": str(access.tenant_id)} if access.tenant_id else {}),
        )
    return access


def _scoped(principal: Principal, permission: Permission) -> bool:
    return principal.scopes is None or permission.value in principal.scopes


def _parse_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class Guard:
    """The single enforcement point; one instance per permission (see :func:`requires`)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __repr__(self) -> str:
        return f"Guard({self.permission.value!r})"

    async def __call__(self, request: Request) -> Access:
        permission = self.permission
        state = request.scope.setdefault("state", {})
        if permission is Permission.PUBLIC:
            return _granted(state, Access(permission, None))
        services = request.app.state.services
        principal: Principal = await services.authenticator.authenticate(request)
        state["principal"] = principal
        retry = await services.rate_limiter.hit(
            "p:" + principal.subject, services.settings.rate_limit_principal_per_minute
        )
        if retry is not None:
            state["rate_limit_scope"] = "principal"
            raise too_many_requests(retry)
        if permission.scope is Scope.AUTHENTICATED:
            return _granted(state, Access(permission, principal))
        if permission.scope is Scope.PLATFORM:
            if not principal.operator or not _scoped(principal, permission):
                state["auth_failure"] = "forbidden"
                raise forbidden("platform operators only")
            return _granted(state, Access(permission, principal))
        return await self._tenant_access(request, principal, state)

    async def _tenant_access(
        self, request: Request, principal: Principal, state: dict[str, Any]
    ) -> Access:
        permission = self.permission
        services = request.app.state.services
        tenant_id = _parse_uuid(request.path_params.get("tenant_id"))
        if tenant_id is None:
            raise not_found("tenant")
        role = principal.role_in(tenant_id)
        if role is None:
            if not (
                principal.operator
                and permission in OPERATOR_TENANT_GRANTS
                and _scoped(principal, permission)
            ):
                raise not_found("tenant")
            settings = await services.tenant_settings.get(tenant_id)
            if settings is None:
                raise not_found("tenant")
            state["tenant_id"] = tenant_id
            return _granted(state, Access(permission, principal, tenant_id, None))
        state["tenant_id"] = tenant_id
        allowed = role_allows(role, permission) or (
            principal.operator and permission in OPERATOR_TENANT_GRANTS
        )
        if not allowed or not _scoped(principal, permission):
            state["auth_failure"] = "forbidden"
            raise forbidden()
        settings = await services.tenant_settings.get(tenant_id)
        if settings is None:  # membership outlived its tenant within the token's lifetime
            raise not_found("tenant")
        retry = await services.rate_limiter.hit(
            f"t:{tenant_id}", settings.rate_limits.requests_per_minute
        )
        if retry is not None:
            state["rate_limit_scope"] = "tenant"
            raise too_many_requests(retry)
        return _granted(state, Access(permission, principal, tenant_id, role))


_GUARDS: dict[Permission, Guard] = {}


def guard_for(permission: Permission) -> Guard:
    """The shared guard instance for ``permission``."""
    guard = _GUARDS.get(permission)
    if guard is None:
        guard = _GUARDS[permission] = Guard(permission)
    return guard


def requires(permission: Permission) -> Any:
    """``Depends`` marker declaring the permission a route needs (use exactly one per route)."""
    return Depends(guard_for(permission))


class RouteInfo(Protocol):
    """What the policy checks read from a route (an APIRoute or FastAPI's included view)."""

    path: str
    path_format: str
    name: str
    methods: set[str] | None
    dependant: Any


def route_permissions(route: RouteInfo) -> list[Permission]:
    """Permissions a route declares (found by walking its dependency tree)."""
    found: list[Permission] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Guard):
            found.append(dep.call.permission)
        stack.extend(dep.dependencies)
    return found


def api_routes(app: FastAPI) -> list[RouteInfo]:
    """Every API route of the app, as mounted (prefixes applied), docs excluded."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.16x: lazy includes
    except ImportError:  # pragma: no cover - older FastAPI flattens included routers
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [
        cast(RouteInfo, ctx)
        for ctx in iter_route_contexts(app.routes)
        if isinstance(ctx.original_route, APIRoute)
    ]


def check_route_policies(app: FastAPI) -> None:
    """Fail fast if any route declares no permission, or more than one."""
    problems: list[str] = []
    routes = api_routes(app)
    if not routes:
        raise RuntimeError("no API routes found: the route table could not be enumerated")
    for route in routes:
        perms = set(route_permissions(route))
        if len(perms) != 1:
            problems.append(
                f"{sorted(route.methods or ())} {route.path}: {sorted(perms) or 'none'}"
            )
            continue
        (perm,) = perms
        if perm.scope is Scope.TENANT and "{tenant_id}" not in route.path:
            problems.append(f"{route.path}: tenant permission {perm} without {{tenant_id}}")
    if problems:
        raise RuntimeError("routes need exactly one declared permission: " + "; ".join(problems))

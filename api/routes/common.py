"""Field types and helpers shared by route modules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import Field

from api.deps import AuditDep, ServicesDep, SessionDep, TemporalDep
from api.problems import PROBLEM_RESPONSES, not_found
from api.rbac import Access, Permission, requires
from api.services import Services
from api.tenancy import TenantSettings

NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_CONTROL)]
DisplayName = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL)]
Email = Annotated[
    str,
    Field(
        max_length=320,
        pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$",
        examples=["ada@example.com"],
    ),
]
Domain = Annotated[
    str,
    Field(
        max_length=253,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        examples=["example.com"],
    ),
]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
RESPONSES = PROBLEM_RESPONSES


async def tenant_settings_of(services: Services, access: Access) -> TenantSettings:
    """The caller's tenant's settings (cached for a few seconds)."""
    assert access.tenant_id is not None
    settings = await services.tenant_settings.get(access.tenant_id)
    if settings is None:
        raise not_found("tenant")
    return settings


class TenantCall:
    """What a handler that changes a tenant's state takes: its checked access, the
    request's database session, the services, Temporal and the audit note."""

    def __init__(
        self,
        access: Access,
        session: SessionDep,
        services: ServicesDep,
        client: TemporalDep,
        audit: AuditDep,
    ) -> None:
        assert access.tenant_id is not None
        self.access, self.tenant_id = access, access.tenant_id
        self.session, self.services, self.client, self.audit = session, services, client, audit

    @property
    def actor(self) -> str:
        """The caller's subject, as runs and schedules record who started them."""
        return self.access.actor.subject

    async def tenant_settings(self) -> TenantSettings:
        """The caller's tenant's settings (see :func:`tenant_settings_of`)."""
        return await tenant_settings_of(self.services, self.access)


def tenant_call(permission: Permission) -> Any:
    """``Depends`` marker for a :class:`TenantCall` that needs ``permission``; use it as
    ``Annotated[TenantCall, tenant_call(Permission.X)]``. Scoped like the session it holds
    (closed when the handler returns)."""

    # Keyword-only, so the permission check stays first as in a handler; the guard is a
    # default because string annotations (PEP 563) cannot see ``permission``.
    async def call(
        *,
        access: Access = requires(permission),  # noqa: B008 - a FastAPI Depends marker
        session: SessionDep,
        services: ServicesDep,
        client: TemporalDep,
        audit: AuditDep,
    ) -> TenantCall:
        return TenantCall(access, session, services, client, audit)

    return Depends(call, scope="function")

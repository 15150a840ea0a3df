"""Field types and helpers shared by route modules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Self, TypeVar, cast

import sqlalchemy as sa
from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

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


def strict_body(example: dict[str, Any]) -> ConfigDict:
    """A request body's model config: unknown fields refused (422), `example` in the docs."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
RESPONSES = PROBLEM_RESPONSES
_Row = TypeVar("_Row")


async def tenant_settings_of(services: Services, access: Access) -> TenantSettings:
    """The caller's tenant's settings (cached for a few seconds)."""
    assert access.tenant_id is not None
    settings = await services.tenant_settings.get(access.tenant_id)
    if settings is None:
        raise not_found("tenant")
    return settings


class TenantScope:
    """What a tenant handler takes: its checked access (and tenant id), the request's
    database session (it connects on first use), the services and the audit note."""

    def __init__(
        self, access: Access, session: SessionDep, services: ServicesDep, audit: AuditDep
    ) -> None:
        assert access.tenant_id is not None
        self.access, self.tenant_id = access, access.tenant_id
        self.session, self.services, self.audit = session, services, audit

    @property
    def actor(self) -> str:
        """The caller's subject, as runs and schedules record who started them."""
        return self.access.actor.subject

    async def tenant_settings(self) -> TenantSettings:
        """The caller's tenant's settings (see :func:`tenant_settings_of`)."""
        return await tenant_settings_of(self.services, self.access)


class TenantCall(TenantScope):
    """A :class:`TenantScope` that also holds the Temporal client (so the handler answers
    503 before doing anything while Temporal is unreachable)."""

    def __init__(self, scope: TenantScope, client: Client) -> None:
        super().__init__(scope.access, scope.session, scope.services, scope.audit)
        self.client = client


def tenant_scope(permission: Permission) -> Any:
    """``Depends`` marker for a :class:`TenantScope` that needs ``permission``; use it as
    ``Annotated[TenantScope, tenant_scope(Permission.X)]``. It does not touch Temporal.
    Scoped like the session it holds (closed when the handler returns)."""

    # Keyword-only, so the permission check stays first as in a handler; the guard is a
    # default because string annotations (PEP 563) cannot see ``permission``.
    async def scope(
        *,
        access: Access = requires(permission),  # noqa: B008 - a FastAPI Depends marker
        session: SessionDep,
        services: ServicesDep,
        audit: AuditDep,
    ) -> TenantScope:
        return TenantScope(access, session, services, audit)

    return Depends(scope, scope="function")


def tenant_call(permission: Permission) -> Any:
    """``Depends`` marker for a :class:`TenantCall` that needs ``permission``; use it as
    ``Annotated[TenantCall, tenant_call(Permission.X)]``. Scoped like the session it holds
    (closed when the handler returns)."""

    async def call(
        *,
        scope: TenantScope = tenant_scope(permission),  # noqa: B008 - a FastAPI Depends marker
        client: TemporalDep,
    ) -> TenantCall:
        return TenantCall(scope, client)

    return Depends(call, scope="function")


class RowOut(BaseModel):
    """A response model read field by field from a record's attributes of the same names."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, row: object) -> Self:
        """The model of ``row`` (an ORM row or a dataclass with these fields)."""
        return cls.model_validate(row)


async def latest_of_tenant(
    session: AsyncSession, model: type[_Row], tenant_id: uuid.UUID, limit: int = 500
) -> Sequence[_Row]:
    """The tenant's newest ``limit`` rows of ``model`` (a table with ``tenant_id`` and
    ``created_at`` columns), newest first."""
    table = cast(Any, model)
    rows = await session.scalars(
        sa.select(model)
        .where(table.tenant_id == tenant_id)
        .order_by(table.created_at.desc())
        .limit(limit)
    )
    return rows.all()

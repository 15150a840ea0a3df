"""Tenants: creation by platform operators, profile, per-tenant settings, email-domain rules."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.models import Invitation, Role, Tenant, TenantDomain, utcnow
from api.deps import AuditDep, CurrentPrincipal, SessionDep
from api.problems import conflict, not_found
from api.rbac import Permission, requires
from api.routes.common import (
    RESPONSES,
    DisplayName,
    Domain,
    Email,
    Limit,
    RowOut,
    TenantScope,
    strict_body,
    tenant_scope,
)
from api.tenancy import TenantSettings

router = APIRouter(prefix="/v1/tenants", tags=["tenants"], responses=RESPONSES)
Slug = Annotated[
    str,
    Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", examples=["acme"]),
]


class DomainRule(BaseModel):
    """Verified emails of ``domain`` join the tenant with ``role`` on their first login."""

    model_config = ConfigDict(extra="forbid")

    domain: Domain
    role: Role = Role.USER


class TenantCreate(BaseModel):
    model_config = strict_body(
        {
            "slug": "acme",
            "name": "Acme Research",
            "admin_emails": ["ada@acme.example"],
            "email_domains": [{"domain": "acme.example", "role": "user"}],
        }
    )

    slug: Slug
    name: DisplayName
    settings: TenantSettings = Field(default_factory=TenantSettings)
    admin_emails: list[Email] = Field(
        default_factory=list, max_length=50, description="Invited as admins (30-day invitations)."
    )
    email_domains: list[DomainRule] = Field(default_factory=list, max_length=50)


class TenantUpdate(BaseModel):
    model_config = strict_body({"name": "Acme Labs"})

    name: DisplayName


class TenantOut(RowOut):
    id: uuid.UUID
    slug: str = Field(examples=["acme"])
    name: str = Field(examples=["Acme Research"])
    created_at: datetime


class TenantList(BaseModel):
    tenants: list[TenantOut]


class DomainRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[DomainRule] = Field(max_length=50)


async def _load(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise not_found("tenant")
    return tenant


@router.post("", status_code=201, dependencies=[requires(Permission.PLATFORM_TENANTS_CREATE)])
async def create_tenant(
    body: TenantCreate, principal: CurrentPrincipal, session: SessionDep, audit: AuditDep
) -> TenantOut:
    """Create a tenant (platform operators), inviting its first admins."""
    now = utcnow()
    tenant = Tenant(
        id=uuid.uuid4(),
        slug=body.slug,
        name=body.name,
        settings=body.settings.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    session.add(tenant)
    try:
        await session.flush()
    except IntegrityError:
        raise conflict("slug already taken") from None
    for email in dict.fromkeys(e.lower() for e in body.admin_emails):
        session.add(
            Invitation(
                tenant_id=tenant.id,
                email=email,
                role=Role.ADMIN.value,
                created_by=principal.subject,
                created_at=now,
                expires_at=now + timedelta(days=30),
            )
        )
    for rule in body.email_domains:
        session.add(TenantDomain(domain=rule.domain, tenant_id=tenant.id, role=rule.role.value))
    try:
        await session.commit()
    except IntegrityError:
        raise conflict("an email domain is already claimed by another tenant") from None
    audit.target(tenant.id)
    return TenantOut.of(tenant)


@router.get("", dependencies=[requires(Permission.SELF)])
async def list_tenants(
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TenantList:
    """Tenants you belong to (platform operators: all tenants)."""
    query = sa.select(Tenant).order_by(Tenant.slug).limit(limit).offset(offset)
    if not principal.operator:
        query = query.where(Tenant.id.in_(list(principal.roles)))
    rows = (await session.scalars(query)).all()
    return TenantList(tenants=[TenantOut.of(t) for t in rows])


@router.get("/{tenant_id}")
async def get_tenant(
    call: Annotated[TenantScope, tenant_scope(Permission.TENANT_READ)],
) -> TenantOut:
    """One tenant."""
    return TenantOut.of(await _load(call.session, call.tenant_id))


@router.patch("/{tenant_id}")
async def update_tenant(
    body: TenantUpdate, call: Annotated[TenantScope, tenant_scope(Permission.TENANT_WRITE)]
) -> TenantOut:
    """Rename a tenant."""
    tenant = await _load(call.session, call.tenant_id)
    tenant.name = body.name
    tenant.updated_at = utcnow()
    await call.session.commit()
    return TenantOut.of(tenant)


@router.get("/{tenant_id}/settings")
async def get_settings(
    call: Annotated[TenantScope, tenant_scope(Permission.SETTINGS_READ)],
) -> TenantSettings:
    """Allowed tools, quotas, rate limits and default models."""
    return TenantSettings.model_validate((await _load(call.session, call.tenant_id)).settings)


@router.put("/{tenant_id}/settings")
async def put_settings(
    body: TenantSettings, call: Annotated[TenantScope, tenant_scope(Permission.SETTINGS_WRITE)]
) -> TenantSettings:
    """Replace the tenant's settings."""
    tenant = await _load(call.session, call.tenant_id)
    tenant.settings = body.model_dump(mode="json")
    tenant.updated_at = utcnow()
    await call.session.commit()
    call.services.tenant_settings.invalidate(tenant.id)
    call.audit.detail(settings=tenant.settings)
    return body


@router.get("/{tenant_id}/domains")
async def get_domains(
    call: Annotated[TenantScope, tenant_scope(Permission.TENANT_READ)],
) -> DomainRules:
    """Email-domain rules of the tenant."""
    rows = await call.session.scalars(
        sa.select(TenantDomain)
        .where(TenantDomain.tenant_id == call.tenant_id)
        .order_by(TenantDomain.domain)
    )
    return DomainRules(rules=[DomainRule(domain=r.domain, role=Role(r.role)) for r in rows])


@router.put("/{tenant_id}/domains", dependencies=[requires(Permission.PLATFORM_TENANTS_MANAGE)])
async def put_domains(
    tenant_id: uuid.UUID, body: DomainRules, session: SessionDep, audit: AuditDep
) -> DomainRules:
    """Replace the tenant's email-domain rules (platform operators: a domain is a claim)."""
    await _load(session, tenant_id)
    await session.execute(sa.delete(TenantDomain).where(TenantDomain.tenant_id == tenant_id))
    for rule in body.rules:
        session.add(TenantDomain(domain=rule.domain, tenant_id=tenant_id, role=rule.role.value))
    try:
        await session.commit()
    except IntegrityError:
        raise conflict("an email domain is already claimed by another tenant") from None
    audit.target(tenant_id)
    audit.detail(domains=[r.domain for r in body.rules])
    return body

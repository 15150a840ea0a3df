"""The tenant audit log, for tenant admins (newest first, cursor pagination)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.db.models import AuditEvent
from api.deps import SessionDep
from api.rbac import Access, Permission, requires
from api.routes.common import RESPONSES, Limit

router = APIRouter(prefix="/v1/tenants/{tenant_id}/audit", tags=["audit"], responses=RESPONSES)


class AuditEventOut(BaseModel):
    id: int = Field(examples=[4711])
    occurred_at: datetime
    actor: str = Field(examples=["user:0b6f6a57-3c1e-4f7e-9a51-2f3f3d8c2a10"])
    action: str = Field(examples=["create_key"])
    method: str = Field(examples=["POST"])
    path: str = Field(examples=["/v1/tenants/5d1c0c1e-8d1b-4b7a-9a39-6c7d1e2f3a4b/api-keys"])
    target: str | None = Field(examples=["7a0e2c55-0a38-4d0c-9d7b-5b8f5f0e4f11"])
    request_id: str = Field(examples=["5f0c6d1e2b7a4c1d9e8f7a6b5c4d3e2f"])
    status_code: int = Field(examples=[201])
    outcome: Literal["success", "denied", "failed"]
    client_ip: str | None = Field(examples=["203.0.113.7"])
    details: dict[str, Any]


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_before: int | None = Field(description="Pass as `before` for the next page.")


@router.get("")
async def read_audit(
    access: Annotated[Access, requires(Permission.AUDIT_READ)],
    session: SessionDep,
    limit: Limit = 50,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    actor: Annotated[str | None, Query(max_length=80, pattern=r"^[\x21-\x7e]+$")] = None,
    action: Annotated[str | None, Query(max_length=100, pattern=r"^[\x21-\x7e]+$")] = None,
    outcome: Literal["success", "denied", "failed"] | None = None,
) -> AuditPage:
    """State-changing calls in this tenant, newest first."""
    tenant_id: uuid.UUID | None = access.tenant_id
    query = sa.select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if before is not None:
        query = query.where(AuditEvent.id < before)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action == action)
    if outcome:
        query = query.where(AuditEvent.outcome == outcome)
    rows = (await session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit))).all()
    events = [AuditEventOut.model_validate(r, from_attributes=True) for r in rows]
    return AuditPage(events=events, next_before=events[-1].id if len(events) == limit else None)

"""Tenant members and invitations."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.delegation import check_within
from api.auth.operators import refuse_operator_self_invite
from api.db.models import Invitation, Membership, Role, User, utcnow
from api.problems import conflict, not_found
from api.rbac import Permission
from api.routes.common import (
    RESPONSES,
    Email,
    RowOut,
    TenantScope,
    latest_of_tenant,
    strict_body,
    tenant_scope,
)

router = APIRouter(prefix="/v1/tenants/{tenant_id}", tags=["members"], responses=RESPONSES)
ReadMembers = Annotated[TenantScope, tenant_scope(Permission.MEMBERS_READ)]
ManageMembers = Annotated[TenantScope, tenant_scope(Permission.MEMBERS_MANAGE)]


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str | None = Field(examples=["ada@acme.example"])
    display_name: str = Field(examples=["Ada Lovelace"])
    role: Role
    since: datetime

    @classmethod
    def of(cls, member: Membership, user: User) -> MemberOut:
        return cls(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=Role(member.role),
            since=member.created_at,
        )


class MemberList(BaseModel):
    members: list[MemberOut]


class RoleChange(BaseModel):
    model_config = strict_body({"role": "read-only"})

    role: Role


class InvitationCreate(BaseModel):
    """Invite by verified email, or by a provider's subject id (for providers without email)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"email": "grace@acme.example", "role": "user"},
                {"provider": "corp-sso", "subject": "248289761001", "role": "read-only"},
            ]
        },
    )

    email: Email | None = None
    provider: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")] | None = None
    subject: (
        Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")] | None
    ) = None
    role: Role = Role.USER
    expires_in_days: int = Field(default=14, ge=1, le=365)

    @model_validator(mode="after")
    def _one_target(self) -> InvitationCreate:
        by_subject = self.provider is not None and self.subject is not None
        if (self.email is None) == (not by_subject) or (self.provider is None) != (
            self.subject is None
        ):
            raise ValueError("give either email, or provider and subject")
        return self


class InvitationOut(RowOut):
    id: uuid.UUID
    email: str | None
    provider: str | None
    subject: str | None
    role: Role
    created_by: str = Field(examples=["user:0b6f6a57-3c1e-4f7e-9a51-2f3f3d8c2a10"])
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None


class InvitationList(BaseModel):
    invitations: list[InvitationOut]


async def _membership(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Membership:
    member = await session.get(Membership, (tenant_id, user_id))
    if member is None:
        raise not_found("member")
    return member


async def _other_admins(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
    count = await session.scalar(
        sa.select(sa.func.count()).where(
            Membership.tenant_id == tenant_id,
            Membership.role == Role.ADMIN.value,
            Membership.user_id != user_id,
        )
    )
    return int(count or 0)


@router.get("/members")
async def list_members(call: ReadMembers) -> MemberList:
    """Members and their roles."""
    rows = await call.session.execute(
        sa.select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == call.tenant_id)
        .order_by(User.display_name, User.id)
    )
    return MemberList(members=[MemberOut.of(m, u) for m, u in rows])


@router.put("/members/{user_id}")
async def change_role(user_id: uuid.UUID, body: RoleChange, call: ManageMembers) -> MemberOut:
    """Change a member's role (takes effect at the member's next token refresh)."""
    session = call.session
    if call.access.role is not None:  # members grant no more than they hold; operators see below
        check_within(call.access, body.role, None, "that role")
    member = await _membership(session, call.tenant_id, user_id)
    demoting = body.role is not Role.ADMIN and member.role == Role.ADMIN.value
    if demoting and await _other_admins(session, call.tenant_id, user_id) == 0:
        raise conflict("a tenant keeps at least one admin")
    member.role = body.role.value
    await session.commit()
    user = await session.get(User, user_id)
    assert user is not None
    return MemberOut.of(member, user)


@router.delete("/members/{user_id}", status_code=204)
async def remove_member(user_id: uuid.UUID, call: ManageMembers) -> None:
    """Remove a member from the tenant."""
    session = call.session
    member = await _membership(session, call.tenant_id, user_id)
    if (
        member.role == Role.ADMIN.value
        and await _other_admins(session, call.tenant_id, user_id) == 0
    ):
        raise conflict("a tenant keeps at least one admin")
    await session.delete(member)
    await session.commit()


@router.post("/invitations", status_code=201)
async def invite(body: InvitationCreate, call: ManageMembers) -> InvitationOut:
    """Invite someone; the invitation becomes a membership at their next login.

    Members invite with no more than they hold. A platform operator who is not a member
    cannot invite an operator (itself included): joining a tenant takes its admin."""
    if call.access.role is not None:
        check_within(call.access, body.role, None, "the invited member")
    else:
        await refuse_operator_self_invite(call.session, body.email, body.provider, body.subject)
    now = utcnow()
    invitation = Invitation(
        id=uuid.uuid4(),
        tenant_id=call.tenant_id,
        email=body.email.lower() if body.email else None,
        provider=body.provider,
        subject=body.subject,
        role=body.role.value,
        created_by=call.actor,
        created_at=now,
        expires_at=now + timedelta(days=body.expires_in_days),
    )
    call.session.add(invitation)
    await call.session.commit()
    call.audit.target(invitation.id)
    return InvitationOut.of(invitation)


@router.get("/invitations")
async def list_invitations(call: ManageMembers) -> InvitationList:
    """Pending and accepted invitations."""
    rows = await latest_of_tenant(call.session, Invitation, call.tenant_id)
    return InvitationList(invitations=[InvitationOut.of(i) for i in rows])


@router.delete("/invitations/{invitation_id}", status_code=204)
async def cancel_invitation(invitation_id: uuid.UUID, call: ManageMembers) -> None:
    """Withdraw an invitation."""
    invitation = await call.session.get(Invitation, invitation_id)
    if invitation is None or invitation.tenant_id != call.tenant_id:
        raise not_found("invitation")
    await call.session.delete(invitation)
    await call.session.commit()

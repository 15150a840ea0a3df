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
from api.deps import AuditDep, SessionDep
from api.problems import PROBLEM_BASE, ProblemError, not_found
from api.rbac import Access, Permission, requires
from api.routes.common import RESPONSES, Email

router = APIRouter(prefix="/v1/tenants/{tenant_id}", tags=["members"], responses=RESPONSES)
ReadMembers = Annotated[Access, requires(Permission.MEMBERS_READ)]
ManageMembers = Annotated[Access, requires(Permission.MEMBERS_MANAGE)]


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str | None = Field(examples=["ada@acme.example"])
    display_name: str = Field(examples=["Ada Lovelace"])
    role: Role
    since: datetime


class MemberList(BaseModel):
    members: list[MemberOut]


class RoleChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"role": "read-only"}]}
    )

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


class InvitationOut(BaseModel):
    id: uuid.UUID
    email: str | None
    provider: str | None
    subject: str | None
    role: Role
    created_by: str = Field(examples=["user:0b6f6a57-3c1e-4f7e-9a51-2f3f3d8c2a10"])
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None

    @classmethod
    def of(cls, i: Invitation) -> InvitationOut:
        return cls(
            id=i.id,
            email=i.email,
            provider=i.provider,
            subject=i.subject,
            role=Role(i.role),
            created_by=i.created_by,
            created_at=i.created_at,
            expires_at=i.expires_at,
            accepted_at=i.accepted_at,
        )


class InvitationList(BaseModel):
    invitations: list[InvitationOut]


def _conflict(detail: str) -> ProblemError:
    return ProblemError(409, detail, type_=PROBLEM_BASE + "conflict")


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
async def list_members(access: ReadMembers, session: SessionDep) -> MemberList:
    """Members and their roles."""
    rows = await session.execute(
        sa.select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == access.tenant_id)
        .order_by(User.display_name, User.id)
    )
    return MemberList(
        members=[
            MemberOut(
                user_id=u.id,
                email=u.email,
                display_name=u.display_name,
                role=Role(m.role),
                since=m.created_at,
            )
            for m, u in rows
        ]
    )


@router.put("/members/{user_id}")
async def change_role(
    user_id: uuid.UUID, body: RoleChange, access: ManageMembers, session: SessionDep
) -> MemberOut:
    """Change a member's role (takes effect at the member's next token refresh)."""
    assert access.tenant_id is not None
    if access.role is not None:  # members grant no more than they hold; operators see below
        check_within(access, body.role, None, "that role")
    member = await _membership(session, access.tenant_id, user_id)
    demoting = body.role is not Role.ADMIN and member.role == Role.ADMIN.value
    if demoting and await _other_admins(session, access.tenant_id, user_id) == 0:
        raise _conflict("a tenant keeps at least one admin")
    member.role = body.role.value
    await session.commit()
    user = await session.get(User, user_id)
    assert user is not None
    return MemberOut(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=body.role,
        since=member.created_at,
    )


@router.delete("/members/{user_id}", status_code=204)
async def remove_member(user_id: uuid.UUID, access: ManageMembers, session: SessionDep) -> None:
    """Remove a member from the tenant."""
    assert access.tenant_id is not None
    member = await _membership(session, access.tenant_id, user_id)
    if (
        member.role == Role.ADMIN.value
        and await _other_admins(session, access.tenant_id, user_id) == 0
    ):
        raise _conflict("a tenant keeps at least one admin")
    await session.delete(member)
    await session.commit()


@router.post("/invitations", status_code=201)
async def invite(
    body: InvitationCreate, access: ManageMembers, session: SessionDep, audit: AuditDep
) -> InvitationOut:
    """Invite someone; the invitation becomes a membership at their next login.

    Members invite with no more than they hold. A platform operator who is not a member
    cannot invite an operator (itself included): joining a tenant takes its admin."""
    assert access.tenant_id is not None
    if access.role is not None:
        check_within(access, body.role, None, "the invited member")
    else:
        await refuse_operator_self_invite(session, body.email, body.provider, body.subject)
    now = utcnow()
    invitation = Invitation(
        id=uuid.uuid4(),
        tenant_id=access.tenant_id,
        email=body.email.lower() if body.email else None,
        provider=body.provider,
        subject=body.subject,
        role=body.role.value,
        created_by=access.actor.subject,
        created_at=now,
        expires_at=now + timedelta(days=body.expires_in_days),
    )
    session.add(invitation)
    await session.commit()
    audit.target(invitation.id)
    return InvitationOut.of(invitation)


@router.get("/invitations")
async def list_invitations(access: ManageMembers, session: SessionDep) -> InvitationList:
    """Pending and accepted invitations."""
    rows = await session.scalars(
        sa.select(Invitation)
        .where(Invitation.tenant_id == access.tenant_id)
        .order_by(Invitation.created_at.desc())
        .limit(500)
    )
    return InvitationList(invitations=[InvitationOut.of(i) for i in rows])


@router.delete("/invitations/{invitation_id}", status_code=204)
async def cancel_invitation(
    invitation_id: uuid.UUID, access: ManageMembers, session: SessionDep
) -> None:
    """Withdraw an invitation."""
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or invitation.tenant_id != access.tenant_id:
        raise not_found("invitation")
    await session.delete(invitation)
    await session.commit()

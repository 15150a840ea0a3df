"""Platform operators never join a tenant on their own say-so.

Operators configure tenants and manage their members, but "operators never see tenant
data" must hold against the operator itself: an invitation that a non-member (an
operator) created is never accepted by a platform-operator user, and an email-domain
rule never makes an operator a member. Joining a tenant takes an invitation from one
of its admins, which the tenant sees in its member list and audit log. There is no
break-glass path.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.models import ApiKey, Identity, Invitation, Membership, Role, User
from api.problems import forbidden


async def refuse_operator_self_invite(
    session: AsyncSession, email: str | None, provider: str | None, subject: str | None
) -> None:
    """403 when an operator (acting without membership) invites a platform operator."""
    if email is not None:
        target = sa.select(User.id).where(sa.func.lower(User.email) == email.lower())
    else:
        target = sa.select(Identity.user_id).where(
            Identity.provider == provider, Identity.subject == subject
        )
    operator = await session.scalar(
        sa.select(User.id).where(User.id.in_(target), User.is_operator.is_(True)).limit(1)
    )
    if operator is not None:
        raise forbidden("a platform operator joins a tenant only by an invitation of its admin")


async def invited_by_tenant_admin(session: AsyncSession, invitation: Invitation) -> bool:
    """Whether the invitation's creator is (still) an admin of the invitation's tenant."""
    kind, _, raw_id = invitation.created_by.partition(":")
    try:
        creator = uuid.UUID(raw_id)
    except ValueError:
        return False
    if kind == "user":
        member = await session.get(Membership, (invitation.tenant_id, creator))
        return member is not None and member.role == Role.ADMIN.value
    if kind == "apikey":
        key = await session.get(ApiKey, creator)
        return (
            key is not None
            and key.tenant_id == invitation.tenant_id
            and key.role == Role.ADMIN.value
            and not key.platform_operator
        )
    return False

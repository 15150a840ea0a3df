"""First login provisions the user; memberships follow invitations and email-domain rules.

* An identity already linked (provider + subject) logs in as its user.
* Otherwise a user with the same *verified* email is linked, or a new user is created.
* Pending invitations addressed to the verified email, or to this provider + subject,
  become memberships (at any login, once each).
* On the first login only, a verified email whose domain a tenant claims joins that
  tenant with the rule's role (so removing a member is not undone by the next login).
* A platform operator joins only by an invitation of the tenant's admin
  (``api.auth.operators``); other invitations and domain rules pass it by.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.oidc import ExternalIdentity
from api.auth.operators import invited_by_tenant_admin
from api.db.models import Identity, Invitation, Membership, TenantDomain, User, utcnow


async def provision(session: AsyncSession, ext: ExternalIdentity) -> tuple[User, bool]:
    """The user behind ``ext`` (created on first login) and whether it was created."""
    identity = await session.scalar(
        sa.select(Identity).where(
            Identity.provider == ext.provider, Identity.subject == ext.subject
        )
    )
    created = False
    verified_email = ext.email if ext.email_verified else None
    if identity is not None:
        user = await session.get(User, identity.user_id)
        assert user is not None
    else:
        user = None
        if verified_email:
            user = await session.scalar(
                sa.select(User).where(User.email == verified_email).limit(1)
            )
        if user is None:
            # Only a verified email goes on the account: an unverified one could pre-claim
            # someone else's address and capture their later, verified login.
            user = User(email=verified_email, display_name=ext.name, created_at=utcnow())
            session.add(user)
            await session.flush()
            created = True
        session.add(
            Identity(user_id=user.id, provider=ext.provider, subject=ext.subject, email=ext.email)
        )
    await _accept_invitations(session, user, ext, verified_email)
    if created and verified_email:
        await _apply_domain_rule(session, user, verified_email)
    await session.flush()
    return user, created


async def _member_tenants(session: AsyncSession, user: User) -> set[object]:
    rows = await session.scalars(
        sa.select(Membership.tenant_id).where(Membership.user_id == user.id)
    )
    return set(rows)


async def _accept_invitations(
    session: AsyncSession, user: User, ext: ExternalIdentity, verified_email: str | None
) -> None:
    match = sa.and_(Invitation.provider == ext.provider, Invitation.subject == ext.subject)
    if verified_email:
        match = sa.or_(match, Invitation.email == verified_email)
    invitations = (
        await session.scalars(
            sa.select(Invitation).where(
                match, Invitation.accepted_at.is_(None), Invitation.expires_at > utcnow()
            )
        )
    ).all()
    if not invitations:
        return
    member_of = await _member_tenants(session, user)
    for invitation in invitations:
        if user.is_operator and not await invited_by_tenant_admin(session, invitation):
            continue  # stays pending: visible to the tenant's admins, who can withdraw it
        invitation.accepted_at = utcnow()
        if invitation.tenant_id not in member_of:
            session.add(
                Membership(tenant_id=invitation.tenant_id, user_id=user.id, role=invitation.role)
            )
            member_of.add(invitation.tenant_id)


async def _apply_domain_rule(session: AsyncSession, user: User, email: str) -> None:
    if user.is_operator:
        return
    domain = email.rpartition("@")[2]
    rule = await session.get(TenantDomain, domain)
    if rule is None:
        return
    if rule.tenant_id not in await _member_tenants(session, user):
        session.add(Membership(tenant_id=rule.tenant_id, user_id=user.id, role=rule.role))

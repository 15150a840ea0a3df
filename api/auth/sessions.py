"""A login session: an access token plus the first refresh token of a new family."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.refresh import IssuedRefresh, RefreshTokenService
from api.auth.tokens import TokenService
from api.db.models import Membership, Role, User


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user_id: uuid.UUID


async def roles_of(session: AsyncSession, user_id: uuid.UUID) -> dict[uuid.UUID, Role]:
    """The user's role in every tenant it belongs to."""
    rows = await session.execute(
        sa.select(Membership.tenant_id, Membership.role).where(Membership.user_id == user_id)
    )
    return {tenant_id: Role(role) for tenant_id, role in rows}


async def access_for(
    session: AsyncSession, tokens: TokenService, user: User, refresh: IssuedRefresh
) -> TokenPair:
    """Mint an access token with the user's current roles next to ``refresh``."""
    roles = await roles_of(session, user.id)
    access = tokens.issue(user.id, roles, operator=user.is_operator, session_id=refresh.family_id)
    return TokenPair(access, refresh.token, tokens.ttl_seconds, user.id)


async def start_session(
    session: AsyncSession, tokens: TokenService, refresh: RefreshTokenService, user: User
) -> TokenPair:
    """Begin a new refresh family for ``user`` (caller commits)."""
    return await access_for(session, tokens, user, refresh.issue(session, user.id))

"""Refresh tokens: rotated on every use, stored as SHA-256, reuse revokes the whole family.

A family starts at login. Each refresh marks the presented token used and issues its
successor. Presenting a used (or revoked) token means it was copied: every token of the
family is revoked, so both the thief and the victim must log in again.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.apikeys import hash_secret
from api.auth.revocation import SessionRevocations
from api.db.models import RefreshToken, utcnow

TOKEN_PREFIX = "tfr_"  # noqa: S105 - a prefix, not a secret


class InvalidRefreshTokenError(Exception):
    """Unknown, expired or revoked refresh token. Always answered with 401."""


class RefreshReuseError(InvalidRefreshTokenError):
    """A rotated token was presented again; its family has been revoked."""

    def __init__(self, family_id: uuid.UUID, user_id: uuid.UUID) -> None:
        super().__init__("refresh token reuse")
        self.family_id = family_id
        self.user_id = user_id


@dataclass(frozen=True, slots=True)
class IssuedRefresh:
    token: str
    family_id: uuid.UUID
    user_id: uuid.UUID


class RefreshTokenService:
    """Database-backed refresh-token families (all methods leave committing to the caller)."""

    def __init__(
        self,
        ttl_seconds: int,
        family_max_age_seconds: int,
        revocations: SessionRevocations | None = None,
    ) -> None:
        self._ttl = timedelta(seconds=ttl_seconds)
        self._family_age = timedelta(seconds=family_max_age_seconds)
        self._revocations = revocations

    def issue(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        *,
        family_id: uuid.UUID | None = None,
        family_expires_at: datetime | None = None,
    ) -> IssuedRefresh:
        """Start a family (login) or continue one (rotation)."""
        now = utcnow()
        family_end = family_expires_at or now + self._family_age
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        family = family_id or uuid.uuid4()
        session.add(
            RefreshToken(
                id=uuid.uuid4(),
                family_id=family,
                user_id=user_id,
                token_hash=hash_secret(raw),
                created_at=now,
                expires_at=min(now + self._ttl, family_end),
                family_expires_at=family_end,
            )
        )
        return IssuedRefresh(raw, family, user_id)

    async def rotate(self, session: AsyncSession, raw: str) -> IssuedRefresh:
        """Consume ``raw`` and return its successor; detects and punishes reuse."""
        row = await self._find(session, raw)
        now = utcnow()
        if row.revoked_at is not None or row.used_at is not None:
            await self.revoke_family(session, row.family_id)
            raise RefreshReuseError(row.family_id, row.user_id)
        if row.expires_at <= now:
            raise InvalidRefreshTokenError("expired")
        # Compare-and-set: of two concurrent refreshes with one token, only one wins.
        claimed = await session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            await self.revoke_family(session, row.family_id)
            raise RefreshReuseError(row.family_id, row.user_id)
        return self.issue(
            session, row.user_id, family_id=row.family_id, family_expires_at=row.family_expires_at
        )

    async def revoke(self, session: AsyncSession, raw: str) -> uuid.UUID:
        """Logout: revoke the family ``raw`` belongs to; returns its user id."""
        row = await self._find(session, raw)
        await self.revoke_family(session, row.family_id)
        return row.user_id

    async def revoke_family(self, session: AsyncSession, family_id: uuid.UUID) -> None:
        """Revoke every token of a family, and the session's access tokens with them."""
        await session.execute(
            sa.update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        if self._revocations is not None:
            await self._revocations.revoke(session, family_id)

    @staticmethod
    async def _find(session: AsyncSession, raw: str) -> RefreshToken:
        if not raw.startswith(TOKEN_PREFIX) or len(raw) > 128:
            raise InvalidRefreshTokenError("malformed")
        row = await session.scalar(
            sa.select(RefreshToken).where(RefreshToken.token_hash == hash_secret(raw))
        )
        if row is None:
            raise InvalidRefreshTokenError("unknown")
        return row

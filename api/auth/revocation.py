"""Revoked login sessions: logout ends the session's access tokens too, on every replica.

Each access token carries its session id (``sid``, the refresh family). Logout and
refresh-token reuse write the session to ``revoked_sessions``; every replica keeps the
revoked ids in memory and reads rows newer than its last look at most every
``poll_seconds`` (one indexed query, shared by all requests of that moment). The replica
that revoked a session knows at once; the others within ``poll_seconds``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db.models import RevokedSession, utcnow


class SessionRevocations:
    """The shared revocation list of login sessions, cached per replica."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        poll_seconds: float,
        keep_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._poll_seconds = poll_seconds
        self._keep = timedelta(seconds=keep_seconds)
        self._revoked: dict[uuid.UUID, datetime] = {}
        self._seen_until: datetime | None = None
        self._next_poll = 0.0
        self._polling: asyncio.Task[None] | None = None

    async def is_revoked(self, session_id: uuid.UUID) -> bool:
        """Whether the session was revoked (as of at most ``poll_seconds`` ago)."""
        if time.monotonic() >= self._next_poll:
            if self._polling is None or self._polling.done():
                self._polling = asyncio.create_task(self._poll())
            await asyncio.shield(self._polling)
        return session_id in self._revoked

    async def revoke(self, session: AsyncSession, session_id: uuid.UUID) -> None:
        """Record ``session_id`` as revoked (the caller commits); effective here at once."""
        now = utcnow()
        expires = now + self._keep
        existing = await session.get(RevokedSession, session_id)
        if existing is None:
            session.add(RevokedSession(session_id=session_id, revoked_at=now, expires_at=expires))
        self._revoked[session_id] = expires

    async def _poll(self) -> None:
        now = utcnow()
        query = sa.select(RevokedSession.session_id, RevokedSession.revoked_at).where(
            RevokedSession.expires_at > now
        )
        if self._seen_until is not None:
            # Rows committed a little late still count: look back one poll interval.
            query = query.where(
                RevokedSession.revoked_at >= self._seen_until - timedelta(seconds=5)
            )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
            if self._seen_until is None or len(self._revoked) > 100_000:
                expired = sa.delete(RevokedSession).where(RevokedSession.expires_at <= now)
                await session.execute(expired)
                await session.commit()
        for session_id, revoked_at in rows:
            self._revoked[session_id] = revoked_at + self._keep
        self._revoked = {s: e for s, e in self._revoked.items() if e > now}
        self._seen_until = now
        self._next_poll = time.monotonic() + self._poll_seconds

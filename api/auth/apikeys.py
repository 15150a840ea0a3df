"""API keys for machine clients: ``tfk_<public id>_<secret>``, shown once, stored as SHA-256.

The secret is 256 random bits, so a fast hash is enough (no argon2 on the request path).
Lookups are cached per replica for ``api_key_cache_seconds``; expiry is re-checked on
every request, so a rotated key stops exactly when its grace period ends. A revocation
reaches other replicas within the cache lifetime.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from cachetools import TTLCache
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth.principal import Principal
from api.db.models import ApiKey, Role, utcnow
from api.singleflight import SingleFlight

KEY_PREFIX = "tfk_"
UNKNOWN_KEY_SECONDS = 1.0
"""The least time a wrong key is remembered as wrong (at least the key cache lifetime)."""
KEY_CACHE_SIZE = 50_000
"""Key lookups an API replica keeps in memory."""


class InvalidApiKeyError(Exception):
    """Unknown, malformed, revoked or expired key. Always answered with 401."""


def hash_secret(raw: str) -> bytes:
    """SHA-256 of a whole high-entropy credential string."""
    return hashlib.sha256(raw.encode()).digest()


def new_key() -> tuple[str, str]:
    """A new (public id, full key string)."""
    public_id = secrets.token_hex(8)
    return public_id, f"{KEY_PREFIX}{public_id}_{secrets.token_urlsafe(32)}"


def parse_public_id(raw: str) -> str:
    """The public id inside a key string, or :class:`InvalidApiKeyError`."""
    if not raw.startswith(KEY_PREFIX) or len(raw) > 128:
        raise InvalidApiKeyError("malformed")
    public_id, sep, secret = raw[len(KEY_PREFIX) :].partition("_")
    if not sep or len(public_id) != 16 or not secret:
        raise InvalidApiKeyError("malformed")
    return public_id


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    expires_at: datetime | None
    revoked: bool


class ApiKeyService:
    """Creates, rotates, revokes and authenticates API keys."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], cache_seconds: float = 10.0
    ) -> None:
        self._sessions = sessions
        self._cache: TTLCache[bytes, _Entry] = TTLCache(KEY_CACHE_SIZE, ttl=cache_seconds)
        self._loading: SingleFlight[bytes, _Entry] = SingleFlight()
        # Wrong keys are remembered too, so repeating one costs no database lookup.
        self._unknown: TTLCache[bytes, bool] = TTLCache(
            KEY_CACHE_SIZE, ttl=max(cache_seconds, UNKNOWN_KEY_SECONDS)
        )

    def is_cached(self, raw: str) -> bool:
        """Whether ``raw`` would be answered from this replica's memory (valid or not)."""
        digest = hash_secret(raw)
        return digest in self._cache or digest in self._unknown

    async def authenticate(self, raw: str) -> Principal:
        """The principal a key string stands for, or :class:`InvalidApiKeyError`."""
        digest = hash_secret(raw)
        if digest in self._unknown:
            raise InvalidApiKeyError("unknown")
        entry = self._cache.get(digest)
        if entry is None:
            # Concurrent requests with the same key share one database read.
            try:
                entry = await self._loading.get(digest, lambda: self._load(raw, digest))
            except InvalidApiKeyError:
                self._unknown[digest] = True
                raise
            self._cache[digest] = entry
        if entry.revoked or (entry.expires_at is not None and entry.expires_at <= utcnow()):
            raise InvalidApiKeyError("revoked or expired")
        return entry.principal

    async def _load(self, raw: str, digest: bytes) -> _Entry:
        public_id = parse_public_id(raw)
        async with self._sessions() as session:
            key = await session.scalar(sa.select(ApiKey).where(ApiKey.public_id == public_id))
        if key is None or not hmac.compare_digest(key.secret_hash, digest):
            raise InvalidApiKeyError("unknown")
        return _Entry(principal_for(key), key.expires_at, key.revoked_at is not None)

    def forget(self, key: ApiKey) -> None:
        """Drop cached lookups of ``key`` on this replica (after revoke or rotate)."""
        for digest, entry in list(self._cache.items()):
            if entry.principal.api_key_id == key.id:
                del self._cache[digest]

    @staticmethod
    async def create(
        session: AsyncSession,
        *,
        name: str,
        created_by: str,
        tenant_id: uuid.UUID | None,
        role: Role | None,
        scopes: Sequence[str] | None = None,
        expires_at: datetime | None = None,
        platform_operator: bool = False,
    ) -> tuple[ApiKey, str]:
        """Add a key to ``session`` (caller commits); returns the row and the key string."""
        public_id, raw = new_key()
        key = ApiKey(
            id=uuid.uuid4(),
            public_id=public_id,
            secret_hash=hash_secret(raw),
            name=name,
            tenant_id=tenant_id,
            role=role.value if role else None,
            platform_operator=platform_operator,
            scopes=sorted(set(scopes)) if scopes is not None else None,
            created_by=created_by,
            created_at=utcnow(),
            expires_at=expires_at,
        )
        session.add(key)
        return key, raw

    async def rotate(
        self, session: AsyncSession, key: ApiKey, *, grace_seconds: int, created_by: str
    ) -> tuple[ApiKey, str]:
        """Issue a successor with the same rights; the old key works for ``grace_seconds``."""
        new, raw = await self.create(
            session,
            name=key.name,
            created_by=created_by,
            tenant_id=key.tenant_id,
            role=Role(key.role) if key.role else None,
            scopes=key.scopes,
            expires_at=key.expires_at,
            platform_operator=key.platform_operator,
        )
        grace_end = utcnow() + timedelta(seconds=grace_seconds)
        key.expires_at = grace_end if key.expires_at is None else min(key.expires_at, grace_end)
        key.replaced_by = new.id
        self.forget(key)
        return new, raw

    def revoke(self, key: ApiKey) -> None:
        """Mark ``key`` revoked (caller commits)."""
        key.revoked_at = utcnow()
        self.forget(key)


def principal_for(key: ApiKey) -> Principal:
    """The caller an API key row stands for."""
    roles = {key.tenant_id: Role(key.role)} if key.tenant_id and key.role else {}
    return Principal(
        subject=f"apikey:{key.id}",
        api_key_id=key.id,
        operator=key.platform_operator,
        roles=roles,
        scopes=frozenset(key.scopes) if key.scopes is not None else None,
    )

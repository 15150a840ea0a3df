"""Credential-guessing limits: authentication failures per client address and per key prefix.

Much lower than the request limits (which count every request): a caller that fails to
authenticate more than ``per_ip`` times a minute from one address, or ``per_key`` times
against one API-key prefix, is answered 429 with ``Retry-After`` until the window ends.
Counters live in the configured rate limiter, so replicas that share the database
backend share them. Each replica also remembers locally who is over the limit, so a
blocked guesser costs no database lookup at all.
"""

from __future__ import annotations

import time

from api.ratelimit import RateLimiter

WINDOW_SECONDS = 60
_MEMO_LIMIT = 10_000


class AuthFailureLimiter:
    """Counts failed authentications; says when a caller must wait."""

    def __init__(self, limiter: RateLimiter, *, per_ip: int, per_key: int) -> None:
        self._limiter = limiter
        self._per_ip = per_ip
        self._per_key = per_key
        self._blocked_until: dict[str, float] = {}

    def blocked(self, ip: str, key_prefix: str | None = None) -> float | None:
        """Seconds this caller must still wait, from this replica's memory (no I/O)."""
        now = time.monotonic()
        waits = [
            until - now
            for name in (f"ip:{ip}", f"key:{key_prefix}" if key_prefix else None)
            if name is not None and (until := self._blocked_until.get(name, 0.0)) > now
        ]
        return max(waits) if waits else None

    async def failed(self, ip: str, key_prefix: str | None = None) -> float | None:
        """Record a failure; the seconds to wait when a limit is now exceeded, else None."""
        counters = [(f"ip:{ip}", self._per_ip)]
        if key_prefix:
            counters.append((f"key:{key_prefix}", self._per_key))
        retry: float | None = None
        for name, limit in counters:
            wait = await self._limiter.hit("authfail:" + name, limit, WINDOW_SECONDS)
            if wait is not None:
                self._remember(name, wait)
                retry = max(retry or 0.0, wait)
        return retry

    def _remember(self, name: str, wait: float) -> None:
        now = time.monotonic()
        if len(self._blocked_until) >= _MEMO_LIMIT:
            self._blocked_until = {k: v for k, v in self._blocked_until.items() if v > now}
            if len(self._blocked_until) >= _MEMO_LIMIT:
                self._blocked_until.clear()
        self._blocked_until[name] = now + wait

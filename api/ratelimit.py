"""Fixed-window rate limiting: in memory by default, in the shared database for replicas.

Several API replicas already share the platform database, so the shared backend uses it
(one upsert per check) instead of adding Redis to the stack.
"""

from __future__ import annotations

import time
from typing import Protocol, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.models import RateLimitCounter


class RateLimiter(Protocol):
    """Counts hits per key; returns seconds to wait when over the limit, else None."""

    async def hit(self, key: str, limit: int, window_seconds: int = 60) -> float | None:
        """Record one request for ``key``."""
        ...


class MemoryRateLimiter:
    """Per-process counters (one API replica, or a per-replica limit)."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, limit: int, window_seconds: int = 60) -> float | None:
        now = time.time()
        window = int(now // window_seconds)
        current = self._counts.get(key)
        count = current[1] + 1 if current is not None and current[0] == window else 1
        if len(self._counts) > 100_000:
            self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
        self._counts[key] = (window, count)
        if count > limit:
            return (window + 1) * window_seconds - now
        return None


class DatabaseRateLimiter:
    """Counters in the ``rate_limit_counters`` table, shared by every replica."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._hits = 0

    async def hit(self, key: str, limit: int, window_seconds: int = 60) -> float | None:
        now = time.time()
        window = int(now // window_seconds)
        table = cast(sa.Table, RateLimitCounter.__table__)
        insert = self._dialect.insert(table).values(key=key, window=window, count=1)
        stmt = insert.on_conflict_do_update(
            index_elements=[table.c.key, table.c.window],
            set_={"count": table.c.count + 1},
        ).returning(table.c.count)
        async with self._engine.begin() as conn:
            count = (await conn.execute(stmt)).scalar_one()
            self._hits += 1
            if self._hits % 1000 == 0:
                await conn.execute(sa.delete(table).where(table.c.window < window - 1))
        if count > limit:
            return (window + 1) * window_seconds - now
        return None

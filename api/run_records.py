"""The `runs` rows a run start reads and writes, batched across concurrent starts.

A start looks its idempotency key up before anything else and inserts its record after
the Temporal start. Done through each request's ORM session, that was two connection
check-outs and five statements (select, rollback, insert, commit, reset) per start on
the embedded SQLite's one connection; here concurrent starts share one `SELECT ... IN`
and one multi-row `INSERT ... ON CONFLICT DO NOTHING` (see :mod:`api.db.batching`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db.batching import Batcher
from api.db.models import RunRecord

_CLOSED_ONLY = frozenset({"final_status", "final_state", "closed_at"})
"""Columns a freshly started run never has (left to their database default, NULL)."""


class RunRecords:
    """Idempotency lookups and inserts of started runs, a batch at a time."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._table = cast(sa.Table, RunRecord.__table__)
        self._columns = [c for c in self._table.columns if c.name not in _CLOSED_ONLY]
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._lookups: Batcher[tuple[uuid.UUID, str], str | None] = Batcher(self._find)
        self._inserts: Batcher[dict[str, Any], bool] = Batcher(self._insert)

    async def request_hash(self, tenant_id: uuid.UUID, key: str) -> str | None:
        """The request hash recorded under `key`, or None when no run has the key."""
        return await self._lookups.submit((tenant_id, key))

    async def insert(self, record: RunRecord) -> bool:
        """Store a fresh run's record; False when its key was taken meanwhile (or the
        row was refused: a tree deleted since the start), as an IntegrityError was."""
        assert record.id is not None, "the id is set before the insert"
        assert record.created_at is not None, "the start time is set before the insert"
        return await self._inserts.submit({c.name: getattr(record, c.name) for c in self._columns})

    async def _find(self, keys: Sequence[tuple[uuid.UUID, str]]) -> list[str | None]:
        table = self._table
        query = sa.select(table.c.tenant_id, table.c.key, table.c.request_hash).where(
            sa.tuple_(table.c.tenant_id, table.c.key).in_(sorted(set(keys)))
        )
        async with self._engine.connect() as conn:
            found = {(row[0], row[1]): row[2] for row in await conn.execute(query)}
        return [found.get(k) for k in keys]

    async def _insert(self, rows: Sequence[dict[str, Any]]) -> list[bool]:
        table = self._table
        statement = (
            self._dialect.insert(table)
            .on_conflict_do_nothing(index_elements=[table.c.tenant_id, table.c.key])
            .returning(table.c.id)
        )
        try:
            async with self._engine.begin() as conn:
                stored = {row[0] for row in await conn.execute(statement, list(rows))}
        except IntegrityError:
            if len(rows) == 1:
                return [False]
            # One refused row (a foreign key) fails the batch: store the others one by one.
            return [(await self._insert([row]))[0] for row in rows]
        return [row["id"] in stored for row in rows]

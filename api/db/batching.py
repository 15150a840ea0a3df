"""Group concurrent database work: the callers of one moment share one statement.

The embedded SQLite has a single pooled connection, and every statement on it costs
thread hops that wait for the event loop; at a few hundred concurrent requests the
connection, not SQLite, becomes the queue. A :class:`Batcher` collects the items that
callers submit while a batch is in flight and hands them to one call of its handler,
so 200 concurrent lookups or inserts cost a few statements, not 200 (PostgreSQL gains
the same: fewer round trips and commits).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_BATCH = 500
"""Items per handler call (well under SQLite's bound-parameter limit for a few columns)."""


class Batcher(Generic[Item, Result]):
    """``submit(item)`` resolves to the handler's result for that item.

    The handler receives the batch and returns one result per item, in order. When it
    raises, every caller of that batch gets the exception.
    """

    def __init__(
        self,
        handle: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._handle = handle
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        # A cancelled caller must not cancel the batch the others wait on.
        return await asyncio.shield(done)

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                results = await self._handle([item for item, _ in batch])
            except Exception as exc:  # every caller of the batch sees the failure
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                        done.add_done_callback(_retrieved)
                continue
            for (_, done), result in zip(batch, results, strict=True):
                if not done.done():
                    done.set_result(result)


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark the exception seen (its caller may have been cancelled meanwhile)."""
    future.exception()

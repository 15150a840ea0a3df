"""Single-flight loading: concurrent cache misses for one key share one load.

:class:`SingleFlight` runs the load as a task of its own (for loads that need nothing of
the caller); :class:`SharedRead` lets the first caller read in its own context (its
database session) while the others wait for that read.

`cachetools` bounds and expires the caches; it has no asyncio single-flight (its
decorators' `lock`/`condition` are for threads), and `async-lru` caches per function
with one TTL, while the API's caches expire per entry. So this small piece stays here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar, cast

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """At most one running load per key; every caller for the key awaits that load."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Task[V]] = {}

    def task(self, key: K, load: Callable[[], Coroutine[Any, Any, V]]) -> asyncio.Task[V]:
        """The running load for `key`, started with `load()` if there is none."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.create_task(load())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return task

    async def get(self, key: K, load: Callable[[], Coroutine[Any, Any, V]]) -> V:
        """The result of the shared load; a cancelled caller does not cancel the others."""
        return await asyncio.shield(self.task(key, load))

    def forget(self, key: K) -> None:
        """Callers from now on start a new load for `key` instead of joining the one
        running (its data changed while it ran); that one still finishes for its callers."""
        self._running.pop(key, None)

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._running.get(key) is task:
            del self._running[key]


class SharedRead(Generic[K, V]):
    """Concurrent misses for one key wait for the first caller's read instead of each
    reading.

    The read is the first caller's own (it may use that caller's session), not a task:
    when it fails or its caller is cancelled, the waiting callers read for themselves
    (the next one first), so a failure is never handed to another request.
    """

    def __init__(self) -> None:
        self._reading: dict[K, asyncio.Future[tuple[bool, V | None]]] = {}

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        """The value of the read in flight for `key`, else of `read()`."""
        while (shared := self._reading.get(key)) is not None:
            # Shielded: a cancelled waiter must not cancel the future the others wait on.
            done, value = await asyncio.shield(shared)
            if done:
                return cast(V, value)
        mine: asyncio.Future[tuple[bool, V | None]] = asyncio.get_running_loop().create_future()
        self._reading[key] = mine
        outcome: tuple[bool, V | None] = (False, None)
        try:
            value = await read()
            outcome = (True, value)
            return value
        finally:
            if self._reading.get(key) is mine:
                del self._reading[key]
            mine.set_result(outcome)

    def forget(self, key: K) -> None:
        """Callers from now on do not join the read in flight for `key` (its data changed)."""
        self._reading.pop(key, None)

"""Single-flight loading: concurrent cache misses for one key share one load.

`cachetools` bounds and expires the caches; it has no asyncio single-flight (its
decorators' `lock`/`condition` are for threads), and `async-lru` caches per function
with one TTL, while the API's caches expire per entry. So this small piece stays here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

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

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._running.get(key) is task:
            del self._running[key]

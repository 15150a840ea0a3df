"""A background loop that calls ``poll_once`` every ``interval`` seconds until stopped.

The worker's backlog gauges and its tool-version watch both poll Temporal this way: a
failed poll is logged and retried on the next tick (readiness reports Temporal itself).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from typing import Any

from foundation.telemetry.logs import get_logger

log = get_logger("treeflow.worker")


class PeriodicPoller(abc.ABC):
    """Subclasses set ``interval`` and implement :meth:`poll_once`."""

    interval: float
    task_name = "treeflow-poller"
    failure = "poll failed"
    _task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def poll_once(self) -> Any:
        """One poll."""

    async def _loop(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception as exc:  # the next poll may succeed; readiness covers Temporal
                log.warning("%s: %s", self.failure, exc)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        """Start polling (no-op when already started or when ``interval`` is 0)."""
        if self._task is None and self.interval > 0:
            self._task = asyncio.create_task(self._loop(), name=self.task_name)

    async def stop(self) -> None:
        """Stop polling and wait for the loop to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

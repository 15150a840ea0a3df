"""Follow a run from a client: poll its progress, answer input nodes, await the result."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from workflows.run_models import PendingInput, Progress, RunResult, UserInput
from workflows.workflow import DecisionTreeWorkflow


class InputRejected(RuntimeError):
    """The workflow refused an answer (not waiting any more, or not an allowed choice)."""


ProgressCallback = Callable[[Progress], None]
AnswerProvider = Callable[[PendingInput], Awaitable[Any | None]]


def answers_from(mapping: Mapping[str, Any]) -> AnswerProvider:
    """Answer input nodes from a fixed `{node: answer}` mapping (samples, scripts)."""

    async def provide(pending: PendingInput) -> Any | None:
        return mapping.get(pending.node)

    return provide


async def submit_answer(handle: WorkflowHandle[Any, Any], node: str, value: Any) -> None:
    """Deliver one answer through the validated update; raise `InputRejected` if refused."""
    try:
        await handle.execute_update(
            DecisionTreeWorkflow.submit_input, UserInput(node=node, value=value)
        )
    except WorkflowUpdateFailedError as exc:
        reason = getattr(exc.cause, "message", None) or str(exc.cause or exc)
        raise InputRejected(f"answer for '{node}' rejected: {reason}") from exc


async def follow(
    handle: WorkflowHandle[Any, Any],
    *,
    on_progress: ProgressCallback | None = None,
    answer: AnswerProvider | None = None,
    interval: float = 0.2,
) -> RunResult:
    """Poll `progress` until the run closes; submit answers for waiting inputs."""
    result_task: asyncio.Future[RunResult] = asyncio.ensure_future(handle.result())
    answered: set[tuple[str, int]] = set()
    try:
        while not result_task.done():
            try:
                progress = await handle.query(DecisionTreeWorkflow.progress)
            except RPCError:
                progress = None  # not started yet, or closing; the result will tell
            if progress is not None:
                if on_progress is not None:
                    on_progress(progress)
                if answer is not None:
                    await _answer_waiting(handle, progress, answer, answered)
            await asyncio.wait({result_task}, timeout=interval)
        return result_task.result()
    finally:
        if not result_task.done():
            result_task.cancel()


async def _answer_waiting(
    handle: WorkflowHandle[Any, Any],
    progress: Progress,
    answer: AnswerProvider,
    answered: set[tuple[str, int]],
) -> None:
    for pending in progress.waiting_for:
        key = (pending.node, progress.steps)  # a node waits again only after more steps
        if key in answered:
            continue
        value = await answer(pending)
        if value is None:
            continue
        answered.add(key)
        await submit_answer(handle, pending.node, value)

"""Kill -9 a worker under load and measure how fast its in-flight tool calls resume.

Shared by the slow crash test (tests/worker/test_worker_processes.py) and
`bench/worker_recovery.py`. Two worker processes share the runs; one is killed
mid-way and the survivor finishes everything. Recovery of one call is the time from
the kill to the start of the attempt that replaced the one the dead worker held
(Temporal records the started time of a call's last attempt). The survivor polls
before the kill, so the figure is Temporal noticing the loss plus the retry, not the
start of a new process (which on a loaded machine varies from 2 s to 30 s).
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client, WorkflowHandle

from activities.registry import ToolRegistry
from temporal_client.run_start import run_request, start_options
from tests.support.processes import WorkerProcess
from tests.support.trees import end, tool_node, tree
from workflows.compiler import compile_tree
from workflows.run_models import RunResult
from workflows.workflow import DecisionTreeWorkflow


def chain(**tool_options: Any) -> dict[str, Any]:
    """add, nap, add, nap, add: the naps never heartbeat and hold the tool slot."""
    return tree(
        {
            "one": tool_node("add", {"a": "{{ inputs.n }}", "b": 1}, next="pause1", **tool_options),
            "pause1": tool_node("nap", {"seconds": 0.4}, next="two", **tool_options),
            "two": tool_node(
                "add", {"a": "{{ results.one.sum }}", "b": 10}, next="pause2", **tool_options
            ),
            "pause2": tool_node("nap", {"seconds": 0.4}, next="three", **tool_options),
            "three": tool_node(
                "add", {"a": "{{ results.two.sum }}", "b": 100}, next="e", **tool_options
            ),
            "e": end({"total": "{{ results.three.sum }}"}),
        },
        inputs={"n": {"type": "integer"}},
    )


@dataclass(frozen=True)
class Recovery:
    """Seconds from the kill to each resumed call, and the runs' results."""

    seconds: list[float]
    timeouts: list[str]
    """How Temporal noticed each lost attempt (`HEARTBEAT`, `START_TO_CLOSE`)."""
    totals: list[float]
    closed_before_kill: int

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.seconds)
        if len(ordered) == 1:
            return ordered[0]
        return statistics.quantiles(ordered, n=100, method="inclusive")[round(fraction * 100) - 1]

    def summary(self) -> str:
        return (
            f"{len(self.seconds)} in-flight tool calls resumed after kill -9: "
            f"p50 {self.percentile(0.5):.1f}s, p95 {self.percentile(0.95):.1f}s, "
            f"max {max(self.seconds):.1f}s"
        )


async def resumed_after(
    handles: list[WorkflowHandle[Any, Any]], killed_at: datetime
) -> tuple[list[float], list[str]]:
    """For each call retried after the kill: seconds from kill to restart, and the timeout."""
    seconds: list[float] = []
    timeouts: list[str] = []
    for handle in handles:
        async for event in handle.fetch_history_events():
            if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                continue
            attributes = event.activity_task_started_event_attributes
            started = event.event_time.ToDatetime(tzinfo=UTC)
            if attributes.attempt < 2 or started <= killed_at:
                continue
            seconds.append((started - killed_at).total_seconds())
            kind = attributes.last_failure.timeout_failure_info.timeout_type
            timeouts.append(TimeoutType.Name(kind).removeprefix("TIMEOUT_TYPE_"))
    return seconds, timeouts


async def crash_and_recover(
    client: Client,
    registry: ToolRegistry,
    spawn: Callable[[str], WorkerProcess],
    queue: str,
    doc: dict[str, Any],
    runs: int = 50,
) -> Recovery:
    """Start `runs` runs on two workers, kill -9 one mid-way, let the survivor finish them."""
    spawn("survivor")
    victim = spawn("victim")
    compiled = compile_tree(doc, registry)
    handles: list[WorkflowHandle[Any, RunResult]] = [
        await client.start_workflow(
            DecisionTreeWorkflow.run,
            run_request(compiled, {"n": n}, "crash"),
            **start_options(
                compiled,
                tenant_id="crash",
                workflow_id=f"crash:{uuid.uuid4().hex}",
                task_queue=queue,
            ),
        )
        for n in range(runs)
    ]

    async def steps(handle: WorkflowHandle[Any, Any]) -> int:
        return (await handle.query(DecisionTreeWorkflow.progress)).steps

    for _ in range(300):  # wait until the fleet is mid-way: some runs started, none all done
        progress = await asyncio.gather(*(steps(h) for h in handles[:10]))
        if max(progress) >= 2:
            break
        await asyncio.sleep(0.05)
    killed_at = datetime.now(UTC)
    victim.kill()
    assert victim.process is not None
    assert victim.process.returncode == -signal.SIGKILL
    descriptions = await asyncio.gather(*(h.describe() for h in handles))
    closed = sum(d.close_time is not None for d in descriptions)
    results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 300)
    seconds, timeouts = await resumed_after(list(handles), killed_at)
    return Recovery(
        seconds=seconds,
        timeouts=timeouts,
        totals=[float(r.output["total"]) for r in results],
        closed_before_kill=closed,
    )

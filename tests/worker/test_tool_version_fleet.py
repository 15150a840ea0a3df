"""A run pinned to a tool version survives a fleet that lacks it (real worker processes).

The fleet is swapped under an open run the way a rolling deploy does it: the worker
hosting `tag@1.0.0` and `tag@2.0.0` stops, a `tag@2.0.0`-only worker takes over,
the run reaches its `tag@1.0.0` step and must wait (visible in visibility, metrics
and readiness), not fail; once a `tag@1.0.0` worker is back it finishes with v1.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from activities.registry import ToolRegistry
from temporal_client.run_start import run_request, start_options
from tests.support import fleet_tools
from tests.support.processes import WorkerProcess
from tests.support.temporal_fixtures import compile_for_tests
from tests.support.trees import end, tool_node, tree
from treeflow.devserver import DevServer, free_port
from workflows.run_models import RunResult, UserInput
from workflows.search_attributes import RUN_STATUS
from workflows.tool_routing import WAITING_STATUS
from workflows.workflow import DecisionTreeWorkflow

PINNED_TO_V1 = tree(
    {
        "ask": {"kind": "input", "prompt": "go?", "save_as": "go", "next": "t"},
        "t": tool_node("tag@1.0.0", {"text": "hello"}, next="e"),
        "e": end({"tagged": "{{ results.t.tagged }}"}),
    }
)


@pytest.fixture
def queue() -> str:
    return f"fleet-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for process in started:
        process.stop()


def spawn(
    dev_server: DevServer, queue: str, name: str, pool: list[WorkerProcess], tools: str, **env: str
) -> WorkerProcess:
    modules = json.dumps([f"tests.support.fleet_tools:{tools}"])
    process = WorkerProcess(
        dev_server.address,
        queue,
        name,
        extra_env={"TREEFLOW_WORKER_TOOL_MODULES": modules, **env},
    )
    pool.append(process)
    return process.start()


async def eventually(probe: Callable[[], Awaitable[bool]], what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.2)):
        if await probe():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def run_status(handle: WorkflowHandle[Any, Any]) -> str | None:
    description = await handle.describe()
    return description.typed_search_attributes.get(RUN_STATUS)


def gauge(text: str, name: str, queue: str) -> float | None:
    match = re.search(rf'^{name}\{{task_queue="{re.escape(queue)}"\}} (\S+)$', text, re.M)
    return float(match[1]) if match else None


async def test_a_run_waits_for_its_pinned_version_through_a_fleet_swap(
    client: Client, dev_server: DevServer, queue: str, workers: list[WorkerProcess]
) -> None:
    registry = ToolRegistry.discover(entry_points=False).add(fleet_tools.BOTH)
    compiled = compile_for_tests(PINNED_TO_V1, registry)
    old_fleet = spawn(dev_server, queue, "fleet-v1-v2", workers, "BOTH")
    handle: WorkflowHandle[Any, RunResult] = await client.start_workflow(
        DecisionTreeWorkflow.run,
        run_request(compiled, {}, "fleet"),
        **start_options(
            compiled, tenant_id="fleet", workflow_id=f"fleet:{uuid.uuid4().hex}", task_queue=queue
        ),
    )

    async def asking() -> bool:
        return (await handle.query(DecisionTreeWorkflow.progress)).phase == "waiting_input"

    await eventually(asking, "the run to wait for input")

    old_fleet.send(signal.SIGTERM)
    assert await asyncio.to_thread(old_fleet.wait, 30) == 0, old_fleet.output
    port = free_port()
    new_fleet = spawn(
        dev_server,
        queue,
        "fleet-v2-only",
        workers,
        "V2",
        TREEFLOW_WORKER_METRICS_PORT=str(port),
        TREEFLOW_WORKER_BACKLOG_POLL_SECONDS="0.5",
    )

    async def reported() -> bool:  # the start-up report names the version it lacks
        return "does not host: tag@1.0.0 (1)" in new_fleet.output

    await eventually(reported, "the start-up report")

    await handle.execute_update(DecisionTreeWorkflow.submit_input, UserInput(value="yes"))

    async def waiting() -> bool:
        return await run_status(handle) == WAITING_STATUS

    await eventually(waiting, "RunStatus=waiting_tool")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

        async def gauge_shows_it() -> bool:
            metrics = (await http.get("/metrics")).text
            return gauge(metrics, "treeflow_runs_waiting_for_tool_version", queue) == 1.0

        await eventually(gauge_shows_it, "the waiting gauge")
        metrics = (await http.get("/metrics")).text
        missing_here = (
            f'treeflow_open_runs_missing_tool_version{{task_queue="{queue}",tool="tag@1.0.0"}} 1.0'
        )
        assert missing_here in metrics.splitlines()
        ready = await http.get("/readyz")
        assert ready.status_code == 200  # degraded, not unready: the worker itself is fine
        detail = ready.json()["checks"]["tool_versions"]
        assert detail["status"] == "degraded"
        assert "tag@1.0.0" in detail["detail"]

        await asyncio.sleep(5)  # before the fix the run failed for good ~3 s in
        description = await handle.describe()
        assert description.status == WorkflowExecutionStatus.RUNNING

        spawn(dev_server, queue, "fleet-v1-back", workers, "V1")
        result = await asyncio.wait_for(handle.result(), 60)
        assert result.output == {"tagged": "v1:hello"}
        assert await run_status(handle) is None

        async def gauge_cleared() -> bool:
            metrics = (await http.get("/metrics")).text
            return gauge(metrics, "treeflow_runs_waiting_for_tool_version", queue) == 0.0

        await eventually(gauge_cleared, "the waiting gauge to return to 0")

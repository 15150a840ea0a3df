"""The worker as a process: graceful SIGTERM, fleets, and crash safety under kill -9."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from activities.registry import ToolRegistry
from temporal_client.run_start import run_request, start_options
from tests.support.processes import WorkerProcess
from tests.support.recovery import chain, crash_and_recover
from tests.support.temporal_fixtures import compile_for_tests
from tests.support.trees import end, tool_node, tree
from treeflow.devserver import DevServer
from workflows.run_models import RunResult
from workflows.workflow import DecisionTreeWorkflow


@pytest.fixture
def queue() -> str:
    return f"proc-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def workers(dev_server: DevServer, queue: str) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for process in started:
        process.stop()


def spawn(
    dev_server: DevServer, queue: str, name: str, pool: list[WorkerProcess], **env: str
) -> WorkerProcess:
    process = WorkerProcess(dev_server.address, queue, name, extra_env=env)
    pool.append(process)
    return process.start()


async def start(
    client: Client, registry: ToolRegistry, doc: Any, queue: str, inputs: dict[str, Any]
) -> WorkflowHandle[Any, RunResult]:
    compiled = compile_for_tests(doc, registry)
    return await client.start_workflow(
        DecisionTreeWorkflow.run,
        run_request(compiled, inputs, "proc"),
        **start_options(
            compiled, tenant_id="proc", workflow_id=f"proc:{uuid.uuid4().hex}", task_queue=queue
        ),
    )


async def test_sigterm_lets_running_tools_finish(
    client: Client,
    registry: ToolRegistry,
    dev_server: DevServer,
    queue: str,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    marker = tmp_path / "marker"
    first = spawn(
        dev_server, queue, "draining", workers, TREEFLOW_WORKER_GRACEFUL_SHUTDOWN_SECONDS="20"
    )
    handle = await start(
        client,
        registry,
        tree(
            {
                "s": tool_node("slow", {"seconds": 2, "marker": str(marker)}, next="e"),
                "e": end({"slept": "{{ results.s.slept }}"}),
            }
        ),
        queue,
        {},
    )
    for _ in range(200):
        if marker.exists():
            break
        await asyncio.sleep(0.05)
    assert marker.read_text() == "started"
    first.send(signal.SIGTERM)
    code = await asyncio.to_thread(first.wait, 30)
    assert code == 0, first.output
    assert marker.read_text() == "finished"  # the tool completed during the drain
    assert "stop requested: draining" in first.output
    spawn(dev_server, queue, "successor", workers)
    result = await handle.result()
    assert result.output == {"slept": 2.0}
    events = [e async for e in handle.fetch_history_events()]
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert attempts == [1]  # not retried: the drain let it finish


async def test_workers_on_one_queue_form_a_fleet(
    client: Client,
    registry: ToolRegistry,
    dev_server: DevServer,
    queue: str,
    workers: list[WorkerProcess],
) -> None:
    spawn(dev_server, queue, "fleet-a", workers)
    spawn(dev_server, queue, "fleet-b", workers)
    doc = tree({"s": tool_node("slow", {"seconds": 0.3}, next="e"), "e": end()})
    handles = [await start(client, registry, doc, queue, {}) for _ in range(16)]
    await asyncio.gather(*(h.result() for h in handles))
    identities: set[str] = set()
    for handle in handles:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                identities.add(event.activity_task_started_event_attributes.identity)
    assert identities == {"fleet-a", "fleet-b"}


@pytest.mark.slow
async def test_fifty_runs_survive_kill_minus_nine(
    client: Client,
    registry: ToolRegistry,
    dev_server: DevServer,
    queue: str,
    workers: list[WorkerProcess],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every run finishes with the right total; the resumption figures are printed.

    The chain uses the default timeouts (60 s start-to-close, 10 s heartbeat): before
    tool calls had a heartbeat timeout, the calls the dead worker held resumed only
    after the start-to-close timeout (bench/worker_recovery.py compares both).
    """
    recovery = await crash_and_recover(
        client, registry, lambda name: spawn(dev_server, queue, name, workers), queue, chain()
    )
    assert recovery.closed_before_kill < 50, "the kill came too late to test anything"
    assert recovery.totals == [float(n + 111) for n in range(50)]
    assert recovery.seconds, "no tool call was in flight on the killed worker"
    assert set(recovery.timeouts) == {"HEARTBEAT"}  # not the 60 s start-to-close
    with capsys.disabled():
        print(f"\n{recovery.summary()}")

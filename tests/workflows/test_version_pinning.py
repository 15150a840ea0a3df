"""A run started on tool v1 finishes on v1 after v2 is deployed; new runs get v2."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from temporal_client.run_start import run_request, start_options
from tests.support.tools import echo_v1, echo_v2
from tests.support.trees import end, tool_node, tree
from worker.runner import build_worker
from worker.settings import WorkerSettings
from workflows.compiler import compile_tree
from workflows.run_models import UserInput
from workflows.workflow import DecisionTreeWorkflow

DOC = tree(
    {
        "wait": {"kind": "input", "prompt": "go?", "save_as": "go", "next": "call"},
        "call": tool_node("echo", {"value": "{{ state.go }}"}, next="e"),
        "e": end({"version": "{{ results.call.version }}"}),
    }
)


async def test_running_runs_keep_their_tool_version(client: Client) -> None:
    queue = f"pin-{uuid.uuid4().hex[:8]}"
    v1_only = ToolRegistry.discover().add(echo_v1)
    old_plan = compile_tree(DOC, v1_only)
    assert old_plan.pins() == {"call": "echo@1.0.0"}

    async def start(plan_registry: ToolRegistry) -> str:
        plan = compile_tree(DOC, plan_registry)
        handle = await client.start_workflow(
            DecisionTreeWorkflow.run,
            run_request(plan, {}, "pin"),
            **start_options(
                plan, tenant_id="pin", workflow_id=f"pin:{uuid.uuid4().hex}", task_queue=queue
            ),
        )
        return handle.id

    async with (
        ToolHost(v1_only).running() as host,
        build_worker(client, WorkerSettings(), queue, host),
    ):
        old_run = await start(v1_only)
        handle = client.get_workflow_handle(old_run)
        for _ in range(100):
            progress = await handle.query(DecisionTreeWorkflow.progress)
            if progress.phase == "waiting_input":
                break

    # Deploy v2 next to v1: a new worker fleet with both versions.
    both = ToolRegistry.discover().add(echo_v1, echo_v2)
    async with (
        ToolHost(both).running() as host,
        build_worker(client, WorkerSettings(), queue, host),
    ):
        new_run = await start(both)
        for run_id in (old_run, new_run):
            await client.get_workflow_handle(run_id).execute_update(
                DecisionTreeWorkflow.submit_input, UserInput(value="yes")
            )
        old_result = await client.get_workflow_handle(old_run).result()
        new_result = await client.get_workflow_handle(new_run).result()
    assert old_result["output"] == {"version": "1.0.0"}
    assert new_result["output"] == {"version": "2.0.0"}

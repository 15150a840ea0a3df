"""DecisionTreeWorkflow behaviour against a real Temporal dev server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, CancelledError

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from tests.support.temporal_fixtures import RunTree, StartTree
from tests.support.trees import (
    counting_loop_tree,
    decision,
    end,
    retried_tree,
    rules_tree,
    tool_node,
    tree,
    yes_no,
)
from worker.runner import build_worker
from worker.settings import WorkerSettings
from workflows import search_attributes
from workflows.run_models import Progress, UserInput
from workflows.workflow import DecisionTreeWorkflow


async def events_of(handle: WorkflowHandle[Any, Any]) -> list[Any]:
    return [event async for event in handle.fetch_history_events()]


def count(events: list[Any], kind: int) -> int:
    return sum(1 for event in events if event.event_type == kind)


def scheduled_activities(events: list[Any]) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def wait_for(
    handle: WorkflowHandle[Any, Any], predicate: Any, within: float = 10.0
) -> Progress:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        progress: Progress = await handle.query(DecisionTreeWorkflow.progress)
        if predicate(progress):
            return progress
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met; last progress: {progress}")
        await asyncio.sleep(0.05)


def failure_message(error: WorkflowFailureError) -> str:
    cause = error.cause
    assert isinstance(cause, ApplicationError)
    return cause.message


async def test_tool_chain_with_rule_decision_costs_no_decision_activity(run_tree: RunTree) -> None:
    doc = rules_tree({"answer": "{{ tools.echo.value }}", "sum": "{{ results.first.sum }}"})
    run = await run_tree(doc, {"x": 3})
    assert run.result.outcome == "completed"
    assert run.result.output == {"answer": "small 5.0", "sum": 5.0}
    assert run.result.path == ["first", "check", "small", "done"]
    events = await events_of(run.handle)
    assert scheduled_activities(events) == ["add@1.0.0", "echo@1.0.0"]
    run_big = await run_tree(doc, {"x": 30})
    assert run_big.result.output["answer"] == "big"


async def test_loop_with_decision_after_each_tool_hits_the_pass_limit(run_tree: RunTree) -> None:
    doc = tree(
        {
            "decide": {
                "kind": "decision",
                "max_passes": 3,
                "branches": [{"to": "work", "when": "true"}, {"to": "done"}],
            },
            "work": tool_node(
                "add", {"a": "{{ state.n }}", "b": 1}, set={"n": "{{ result.sum }}"}, next="decide"
            ),
            "done": end(),
        },
        state={"n": 0},
    )
    run = await run_tree(doc)
    assert run.result.outcome == "limit_reached"
    assert "limit of 3 passes" in run.result.output["response"]
    assert run.result.output["result"] == {"sum": 3.0}
    assert run.result.path.count("work") == 3
    assert run.result.path.count("decide") == 4


async def test_pass_limit_can_route_to_a_final_response(run_tree: RunTree) -> None:
    doc = tree(
        {
            "decide": {
                "kind": "decision",
                "max_passes": 2,
                "on_limit": "final",
                "branches": [{"to": "work", "when": "true"}, {"to": "done"}],
            },
            "work": tool_node("echo", {"value": "{{ passes.decide }}"}, next="decide"),
            "final": tool_node(
                "text_response", {"text": "gave up after {{ passes.decide }}"}, next="done"
            ),
            "done": end({"text": "{{ results.final.text }}"}),
        }
    )
    run = await run_tree(doc)
    assert run.result.outcome == "completed"
    assert run.result.output == {"text": "gave up after 3"}


async def test_parallel_block_runs_branches_concurrently(run_tree: RunTree) -> None:
    doc = tree(
        {
            "fan": {"kind": "parallel", "branches": ["left", "right"], "join": "merge"},
            "left": tool_node("add", {"a": 1, "b": 1}, next="merge"),
            "right": tool_node("echo", {"value": "r"}, next="right2"),
            "right2": tool_node("echo", {"value": "{{ results.right.value }}2"}, next="merge"),
            "merge": tool_node(
                "echo", {"value": "{{ results.left.sum }}-{{ results.right2.value }}"}, next="e"
            ),
            "e": end({"v": "{{ results.merge.value }}"}),
        }
    )
    run = await run_tree(doc)
    assert run.result.output == {"v": "2.0-r2"}
    events = await events_of(run.handle)
    kinds = [e.event_type for e in events]
    first_two = [
        i for i, k in enumerate(kinds) if k == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    # Both branch heads are scheduled by the same workflow task, before any completes.
    first_completion = kinds.index(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
    assert first_two[0] < first_two[1] < first_completion


async def test_parallel_fail_fast_cancels_siblings(run_tree: RunTree, tmp_path: Path) -> None:
    marker = tmp_path / "slow.txt"
    doc = tree(
        {
            "fan": {"kind": "parallel", "branches": ["bad", "slow"], "join": "e"},
            "bad": tool_node("broken", next="e"),
            "slow": tool_node("slow", {"seconds": 30, "marker": str(marker)}, next="e"),
            "e": end(),
        }
    )
    with pytest.raises(WorkflowFailureError) as info:
        await run_tree(doc)
    assert "nodes.bad: broken@1.0.0 failed" in failure_message(info.value)


async def test_subtree_runs_as_a_child_workflow(run_tree: RunTree, client: Client) -> None:
    doc = tree(
        {
            "child": {
                "kind": "subtree",
                "spec": tree(
                    {
                        "t": tool_node("add", {"a": "{{ inputs.a }}", "b": 10}, next="e"),
                        "e": end({"total": "{{ results.t.sum }}"}),
                    },
                    name="inner",
                    inputs={"a": {"type": "number"}},
                ),
                "inputs": {"a": "{{ inputs.a }}"},
                "next": "e",
            },
            "e": end({"child_total": "{{ results.child.output.total }}"}),
        },
        inputs={"a": {"type": "number"}},
    )
    run = await run_tree(doc, {"a": 5})
    assert run.result.output == {"child_total": 15.0}
    events = await events_of(run.handle)
    assert count(events, EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED) == 1
    child_id = f"{run.handle.id}/child/1.1"
    child = await client.get_workflow_handle(child_id).describe()
    assert child.status == WorkflowExecutionStatus.COMPLETED
    assert child.typed_search_attributes.get(search_attributes.TREE_NAME) == "inner"
    assert child.typed_search_attributes.get(search_attributes.TENANT_ID) == "tests"


HUMAN = tree(
    {
        "ask": yes_no("Approve {{ inputs.item }}?", "e", timeout="{{timeout}}"),
        "e": end({"answer": "{{ state.answer }}"}),
    },
    inputs={"item": {"type": "string"}},
)


def human(timeout: str, on_timeout: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {**HUMAN, "nodes": dict(HUMAN["nodes"])}
    doc["nodes"]["ask"] = {**doc["nodes"]["ask"], "timeout": timeout}
    if on_timeout:
        doc["nodes"]["ask"]["on_timeout"] = on_timeout
        doc["nodes"][on_timeout] = tool_node("echo", {"value": "timed out"}, next="e")
    return doc


async def test_human_input_via_update_with_validation(start_tree: StartTree) -> None:
    handle = await start_tree(human("1h"), {"item": "invoice 7"})
    progress = await wait_for(handle, lambda p: p.phase == "waiting_input")
    assert progress.current_node == "ask"
    assert progress.waiting_for[0].prompt == "Approve invoice 7?"
    assert progress.waiting_for[0].choices == ["yes", "no"]
    description = await handle.describe()
    assert description.typed_search_attributes.get(search_attributes.RUN_STATUS) == "waiting_input"
    with pytest.raises(Exception, match="Workflow update failed") as rejected:
        await handle.execute_update(DecisionTreeWorkflow.submit_input, UserInput(value="maybe"))
    assert "answer must be one of" in str(rejected.value.__cause__)
    with pytest.raises(Exception, match="Workflow update failed"):
        await handle.execute_update(
            DecisionTreeWorkflow.submit_input, UserInput(node="other", value="yes")
        )
    accepted = await handle.execute_update(
        DecisionTreeWorkflow.submit_input, UserInput(value="yes")
    )
    assert accepted.node == "ask"
    result = await handle.result()
    assert result.output == {"answer": "yes"}
    description = await handle.describe()
    assert description.typed_search_attributes.get(search_attributes.RUN_STATUS) is None
    events = await events_of(handle)
    # Rejected updates leave no trace in history; the accepted one does.
    assert count(events, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) == 1


async def test_human_input_via_signal(start_tree: StartTree) -> None:
    handle = await start_tree(human("1h"), {"item": "x"})
    await wait_for(handle, lambda p: p.phase == "waiting_input")
    await handle.signal(DecisionTreeWorkflow.user_input, UserInput(value="no"))
    assert (await handle.result()).output == {"answer": "no"}


async def test_human_input_timeout_routes_to_on_timeout(run_tree: RunTree) -> None:
    run = await run_tree(human("1s", on_timeout="late"), {"item": "x"})
    assert run.result.path == ["ask", "late", "e"]
    assert run.result.output == {"answer": None}


async def test_human_input_timeout_without_route_fails_clearly(run_tree: RunTree) -> None:
    with pytest.raises(WorkflowFailureError) as info:
        await run_tree(human("1s"), {"item": "x"})
    assert failure_message(info.value) == "nodes.ask: no user input within 1.0s"


async def test_retryable_failures_are_retried_under_the_node_policy(run_tree: RunTree) -> None:
    doc = retried_tree(fail_times=2, max_attempts=3)
    run = await run_tree(doc)
    assert run.result.output == {"attempt": 3}
    events = await events_of(run.handle)
    started = [
        e.activity_task_started_event_attributes.attempt
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert started == [3]  # retries live inside one activity, not extra workflow steps


async def test_retry_policy_exhaustion_fails_the_run(run_tree: RunTree) -> None:
    doc = retried_tree(fail_times=5, max_attempts=2)  # never reaches its end
    with pytest.raises(WorkflowFailureError) as info:
        await run_tree(doc)
    assert failure_message(info.value) == (
        "nodes.f: flaky@1.0.0 failed: RetryableToolError: transient failure on attempt 2"
    )


async def test_non_retryable_failure_ends_the_run_with_a_clear_error(
    start_tree: StartTree,
) -> None:
    doc = tree({"b": tool_node("broken", {"reason": "bad account id"}, next="e"), "e": end()})
    handle = await start_tree(doc)
    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()
    assert failure_message(info.value) == (
        "nodes.b: broken@1.0.0 failed: NonRetryableToolError: bad account id"
    )
    events = await events_of(handle)
    failed = [
        e.activity_task_failed_event_attributes.failure.application_failure_info
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
    ]
    assert [(f.type, f.non_retryable) for f in failed] == [("NonRetryableToolError", True)]
    started = count(events, EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
    assert started == 1


async def test_invalid_arguments_at_run_time_are_not_retried(run_tree: RunTree) -> None:
    doc = tree(
        {
            "s": tool_node("strict@2", {"query": "q", "limit": "{{ inputs.n }}"}, next="e"),
            "e": end(),
        },
        inputs={"n": {"type": "integer"}},
    )
    with pytest.raises(WorkflowFailureError) as info:
        await run_tree(doc, {"n": 1000})
    message = failure_message(info.value)
    assert message.startswith("nodes.s: strict@2.1.0 failed: InvalidToolInput:")
    assert "args.limit: Input should be less than or equal to 100" in message


async def test_errors_are_fed_back_to_the_next_decision(run_tree: RunTree) -> None:
    doc = tree(
        {
            "try": tool_node("broken", {"reason": "index offline"}, on_error="recover", next="e"),
            "recover": decision(("fallback", "len(errors.broken) > 0"), ("e", None)),
            "fallback": tool_node("echo", {"value": "{{ errors.broken[0] }}"}, next="e"),
            "e": end({"seen": "{{ results.fallback.value }}"}),
        }
    )
    run = await run_tree(doc)
    assert run.result.output == {"seen": "NonRetryableToolError: index offline"}
    assert run.result.errors == {"broken": ["NonRetryableToolError: index offline"]}
    assert [t.ok for t in run.result.tasks if t.kind == "tool"] == [False, True]


async def test_cancellation_is_clean(start_tree: StartTree, tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    handle = await start_tree(
        tree({"s": tool_node("slow", {"seconds": 60, "marker": str(marker)}, next="e"), "e": end()})
    )
    for _ in range(100):
        if marker.exists():
            break
        await asyncio.sleep(0.05)
    assert marker.read_text() == "started"
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()
    assert isinstance(info.value.cause, CancelledError)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    for _ in range(100):  # the tool learns about it on its next heartbeat
        if marker.read_text() == "cancelled":
            break
        await asyncio.sleep(0.05)
    assert marker.read_text() == "cancelled"


async def test_router_decision_is_an_activity(run_tree: RunTree) -> None:
    doc = tree(
        {
            "route": {
                "kind": "decision",
                "strategy": "router",
                "branches": [
                    {"to": "refund", "description": "refunds and billing", "keywords": ["refund"]},
                    {"to": "bug", "description": "crashes and errors"},
                ],
            },
            "refund": tool_node("echo", {"value": "refund"}, next="e"),
            "bug": tool_node("echo", {"value": "bug"}, next="e"),
            "e": end({"v": "{{ tools.echo.value }}", "why": "{{ results.route.reasoning }}"}),
        },
        inputs={"question": {"type": "string"}},
    )
    run = await run_tree(doc, {"question": "the app crashes with an error"})
    assert run.result.output["v"] == "bug"
    events = await events_of(run.handle)
    assert scheduled_activities(events) == ["router@1.1.0", "echo@1.0.0"]


@pytest.fixture(scope="module")
async def no_model_queue(client: Client, registry: ToolRegistry) -> AsyncIterator[str]:
    """A worker whose tools have no configuration at all: no language model."""
    async with (
        ToolHost(registry).running() as host,
        build_worker(client, WorkerSettings(), "tests-no-model", host),
    ):
        yield "tests-no-model"


async def test_llm_decision_without_a_model_falls_back_to_routing(
    run_tree: RunTree, no_model_queue: str
) -> None:
    doc = tree(
        {
            "agent": {
                "kind": "decision",
                "strategy": "llm",
                "instruction": "Help the user",
                "branches": [
                    {"to": "a", "description": "weather forecasts"},
                    {"to": "b", "description": "cooking recipes"},
                ],
            },
            "a": tool_node("echo", {"value": "a"}, next="e"),
            "b": tool_node("echo", {"value": "b"}, next="e"),
            "e": end({"why": "{{ results.agent.reasoning }}", "v": "{{ tools.echo.value }}"}),
        },
        inputs={"question": {"type": "string"}},
    )
    run = await run_tree(doc, {"question": "a recipe for cooking pasta"}, task_queue=no_model_queue)
    assert run.result.output["v"] == "b"
    assert run.result.output["why"].startswith("no language model configured")


async def test_requires_offers_a_branch_only_after_its_tool_ran(run_tree: RunTree) -> None:
    doc = tree(
        {
            "pick": {
                "kind": "decision",
                "max_passes": 5,
                "branches": [
                    {"to": "summarise", "requires": ["echo"]},
                    {"to": "search"},
                ],
            },
            "search": tool_node("echo", {"value": "found"}, next="pick"),
            "summarise": tool_node("text_response", {"text": "{{ tools.echo.value }}"}, next="e"),
            "e": end({"text": "{{ results.summarise.text }}"}),
        }
    )
    run = await run_tree(doc)
    assert run.result.path == ["pick", "search", "pick", "summarise", "e"]
    assert run.result.output == {"text": "found"}


async def test_long_runs_continue_as_new_and_keep_their_state(
    start_tree: StartTree, client: Client
) -> None:
    doc = counting_loop_tree({"n": "{{ state.n }}", "passes": "{{ passes.loop }}"})
    handle = await start_tree(doc)
    result = await client.get_workflow_handle(handle.id).result()
    assert result["output"] == {"n": 30.0, "passes": 31}
    assert result["steps"] == 62
    first_run = client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    assert (await first_run.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    latest: Progress = await client.get_workflow_handle(handle.id).query(
        DecisionTreeWorkflow.progress
    )
    assert latest.generation > 1
    assert latest.output == {"n": 30.0, "passes": 31}


async def test_template_errors_fail_with_the_path(run_tree: RunTree) -> None:
    doc = tree(
        {"t": tool_node("echo", {"value": "{{ 1 / state.zero }}"}, next="e"), "e": end()},
        state={"zero": 0},
    )
    with pytest.raises(WorkflowFailureError) as info:
        await run_tree(doc)
    assert failure_message(info.value) == "nodes.t.args.value: division by zero at column 3"


async def test_runs_are_findable_by_typed_search_attributes(
    run_tree: RunTree, client: Client
) -> None:
    run = await run_tree(
        tree({"t": tool_node("echo", next="e"), "e": end()}, name="findme"), tenant="acme"
    )
    description = await run.handle.describe()
    attrs = description.typed_search_attributes
    assert attrs.get(search_attributes.TENANT_ID) == "acme"
    assert attrs.get(search_attributes.TREE_NAME) == "findme"
    assert attrs.get(search_attributes.TREE_HASH) == run.result.tree_hash
    query = f"TenantId = 'acme' AND TreeName = 'findme' AND WorkflowId = '{run.handle.id}'"
    for _ in range(50):  # visibility is eventually consistent
        found = [w.id async for w in client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == [run.handle.id]


async def test_activity_summaries_name_node_and_tool(run_tree: RunTree) -> None:
    run = await run_tree(
        tree(
            {
                "greet": tool_node("echo", {"value": 1}, next="plain", summary="say {{ 1 + 1 }}"),
                "plain": tool_node("echo", next="e"),
                "e": end(),
            }
        )
    )
    events = await events_of(run.handle)
    summaries = [
        e.user_metadata.summary.data.decode()
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert summaries == ['"say 2"', '"plain · echo@1.0.0"']

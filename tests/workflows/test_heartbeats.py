"""Heartbeat defaults and overrides of tool calls, and the pinned-tools memo of a run."""

from __future__ import annotations

from typing import Any

import pytest

from activities.registry import ToolRegistry
from temporal_client.run_start import start_options
from tests.support.temporal_fixtures import RunTree
from tests.support.trees import end, tool_node, tree
from tests.workflows.test_compiler import problems
from tests.workflows.test_interpreter import events_of
from workflows.activity_defaults import DEFAULT_HEARTBEAT_TIMEOUT_SECONDS
from workflows.compiler import compile_tree
from workflows.tool_routing import TOOLS_MEMO_KEY, pinned_activities


def scheduled_heartbeats(events: list[Any]) -> list[float]:
    return [
        e.activity_task_scheduled_event_attributes.heartbeat_timeout.ToTimedelta().total_seconds()
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


async def test_tool_calls_get_the_default_heartbeat_timeout(run_tree: RunTree) -> None:
    run = await run_tree(tree({"a": tool_node("add", {"a": 1, "b": 2}, next="e"), "e": end()}))
    assert run.result.outcome == "completed"
    assert scheduled_heartbeats(await events_of(run.handle)) == [DEFAULT_HEARTBEAT_TIMEOUT_SECONDS]


async def test_a_node_overrides_the_heartbeat_timeout(run_tree: RunTree) -> None:
    doc = tree(
        {"a": tool_node("add", {"a": 1, "b": 2}, heartbeat_timeout="3s", next="e"), "e": end()}
    )
    run = await run_tree(doc)
    assert scheduled_heartbeats(await events_of(run.handle)) == [3.0]


async def test_a_tool_that_never_heartbeats_outlives_its_heartbeat_timeout(
    run_tree: RunTree,
) -> None:
    """The tool host beats for it: one attempt, not heartbeat timeouts and retries."""
    doc = tree(
        {
            "n": tool_node("nap", {"seconds": 3}, heartbeat_timeout="1s", next="e"),
            "e": end({"attempt": "{{ results.n.attempt }}"}),
        }
    )
    run = await run_tree(doc)
    assert run.result.output == {"attempt": 1}


@pytest.mark.parametrize("value", ["500ms", "2h", 0.1, ".inf"])
def test_a_heartbeat_timeout_outside_its_range_is_refused_at_its_path(
    registry: ToolRegistry, value: Any
) -> None:
    doc = tree({"a": tool_node("add", {"a": 1, "b": 2}, heartbeat_timeout=value), "e": end()})
    found = problems(doc, registry)
    assert list(found) == ["nodes.a.heartbeat_timeout"], found


def test_the_tools_memo_lists_every_pinned_version_of_the_tree_and_its_subtrees(
    registry: ToolRegistry,
) -> None:
    child = tree({"c": tool_node("echo@1.0.0", {"value": 1}, next="x"), "x": end()}, name="child")
    doc = tree(
        {
            "a": tool_node("add", {"a": 1, "b": 2}, next="s"),
            "s": {"kind": "subtree", "spec": child, "next": "e"},
            "e": end(),
        }
    )
    compiled = compile_tree(doc, registry)
    options = start_options(compiled, tenant_id="t", workflow_id="t:1", task_queue="q")
    assert options["memo"][TOOLS_MEMO_KEY] == pinned_activities(compiled)
    assert pinned_activities(compiled) == ["add@1.0.0", "echo@1.0.0"]

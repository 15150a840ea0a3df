"""Every tool call is heartbeat-watched, so a dead worker's calls are retried in seconds."""

from __future__ import annotations

from typing import Any

from tests.conftest import RunTree
from tests.support.trees import end, tool_node, tree
from tests.workflows.test_interpreter import events_of
from workflows.activity_defaults import DEFAULT_HEARTBEAT_TIMEOUT_SECONDS


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

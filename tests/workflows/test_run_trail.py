"""The run trail: events and step records answered by queries, followed from history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from temporal_client.run_events import Gap, Idle, follow_events, read_steps
from tests.support.temporal_fixtures import RunTree, StartTree
from tests.support.trees import counting_loop_tree, end, retried_tree, rules_tree, tool_node, tree
from workflows.run_models import UserInput
from workflows.trail import (
    MAX_EVENT_VALUE_BYTES,
    MAX_EVENTS_PAGE,
    MAX_TRAIL_EVENTS,
    RunEvent,
    RunTrail,
)
from workflows.workflow import DecisionTreeWorkflow

RULES_TREE = rules_tree({"answer": "{{ tools.echo.value }}"})


async def all_events(
    client: Client, handle: WorkflowHandle[Any, Any], after: int = 0
) -> list[RunEvent]:
    return [
        item
        async for item in follow_events(client, handle.id, after=after, run_id=handle.result_run_id)
        if isinstance(item, RunEvent)
    ]


async def test_a_plain_run_tells_its_steps_decisions_and_end(
    run_tree: RunTree, client: Client
) -> None:
    run = await run_tree(RULES_TREE, {"x": 30})
    events = await all_events(client, run.handle)
    assert [(e.type, e.node) for e in events] == [
        ("step.started", "first"),
        ("step.completed", "first"),
        ("step.started", "check"),
        ("decision.taken", "check"),
        ("step.completed", "check"),
        ("step.started", "big"),
        ("step.completed", "big"),
        ("step.started", "done"),
        ("step.completed", "done"),
        ("output", None),
        ("run.ended", None),
    ]
    assert [e.id for e in events] == list(range(1, 12))
    started = events[0].data
    assert started["activity"] == "add@1.0.0"
    assert started["args"]["value"] == {"a": 30.0, "b": 2}
    decision = events[3].data
    assert decision["branch"] == "big"
    assert decision["rule"] == "results.first.sum > 10"
    assert decision["index"] == 0
    assert events[-1].data == {"status": "completed", "outcome": "completed"}
    assert events[-2].data["output"]["value"] == {"answer": "big"}


async def test_step_records_carry_activity_attempts_and_history_times(
    run_tree: RunTree, client: Client
) -> None:
    doc = retried_tree(fail_times=2, max_attempts=3)
    run = await run_tree(doc)
    steps = await read_steps(client, run.handle.id)
    flaky = steps[0]
    assert (flaky.node, flaky.kind, flaky.outcome) == ("f", "tool", "completed")
    assert flaky.activity == "flaky@1.0.0"
    assert flaky.attempts == 3
    assert flaky.duration_ms is not None
    assert flaky.duration_ms >= 200
    assert flaky.result is not None
    assert flaky.result.value["attempt"] == 3
    bare = await read_steps(client, run.handle.id, with_history=False)
    assert bare[0].attempts is None


async def test_failures_are_recorded_with_the_error_and_where_the_run_went(
    run_tree: RunTree, client: Client
) -> None:
    doc = tree(
        {
            "f": tool_node("broken", {"reason": "boom"}, on_error="fallback", next="e"),
            "fallback": tool_node("echo", {"value": "recovered"}, next="e"),
            "e": end(),
        }
    )
    run = await run_tree(doc)
    steps = await read_steps(client, run.handle.id)
    failed = steps[0]
    assert failed.outcome == "failed"
    assert failed.handled_by == "fallback"
    assert failed.error is not None
    assert "boom" in failed.error
    assert [s.node for s in steps] == ["f", "fallback", "e"]


async def test_large_values_are_truncated_with_their_full_size(
    run_tree: RunTree, client: Client
) -> None:
    text = "x" * (MAX_EVENT_VALUE_BYTES * 3)
    doc = tree({"big": tool_node("echo", {"value": text}, next="e"), "e": end()})
    run = await run_tree(doc)
    steps = await run.handle.query(DecisionTreeWorkflow.steps)
    args = steps[0].args
    assert args is not None
    assert args.truncated
    assert args.size > MAX_EVENT_VALUE_BYTES * 3
    assert len(str(args.value).encode()) <= MAX_EVENT_VALUE_BYTES


async def test_resuming_after_an_id_yields_exactly_the_rest(
    run_tree: RunTree, client: Client
) -> None:
    run = await run_tree(RULES_TREE, {"x": 1})
    everything = await all_events(client, run.handle)
    rest = await all_events(client, run.handle, after=4)
    assert [e.id for e in rest] == [e.id for e in everything[4:]]
    assert rest[-1].type == "run.ended"


async def test_a_live_run_is_followed_until_it_ends(start_tree: StartTree, client: Client) -> None:
    doc = tree(
        {
            "ask": {"kind": "input", "prompt": "go?", "save_as": "go", "next": "e"},
            "e": end({"go": "{{ state.go }}"}),
        }
    )
    handle = await start_tree(doc)
    seen: list[str] = []
    idles = 0
    async for item in follow_events(client, handle.id, idle_every=0.2):
        if isinstance(item, Idle):
            idles += 1
            if idles == 2:
                await handle.execute_update(
                    DecisionTreeWorkflow.submit_input, UserInput(node="ask", value="yes")
                )
            continue
        assert not isinstance(item, Gap)
        seen.append(item.type)
    assert seen == [
        "step.started",
        "input.requested",
        "input.answered",
        "step.completed",
        "step.started",
        "step.completed",
        "output",
        "run.ended",
    ]


async def test_ids_keep_growing_across_continue_as_new(
    start_tree: StartTree, client: Client
) -> None:
    doc = counting_loop_tree({"n": "{{ state.n }}"})
    handle = await start_tree(doc)
    events = await all_events(client, handle)
    ids = [e.id for e in events]
    assert ids == list(range(1, len(ids) + 1))  # every generation, no gap, no repeat
    assert events[-1].type == "run.ended"
    assert sum(1 for e in events if e.type == "decision.taken") == 31


async def test_a_plain_runs_history_is_what_it_was_without_the_trail(
    run_tree: RunTree,
) -> None:
    """The trail lives in memory: per tool step the history still holds six events and
    nothing else (no marker, upsert or memo). Figures before the trail existed, same
    tree: 19 events (main at ff53a13)."""
    run = await run_tree(RULES_TREE, {"x": 30})
    events = [event async for event in run.handle.fetch_history_events()]
    kinds = [event.event_type for event in events]
    assert len(events) == 19
    assert kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == 2
    assert kinds.count(EventType.EVENT_TYPE_MARKER_RECORDED) == 1  # the tool-wait patch
    assert kinds.count(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES) == 1


def test_the_trail_keeps_its_newest_events_and_says_where_it_starts() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    trail = RunTrail(offset=40, generation=2)
    for index in range(MAX_TRAIL_EVENTS + 60):
        trail.step_started(at, f"n{index}", "tool", activity="echo@1.0.0", args={"i": index})
        trail.step_completed(at, f"n{index}", result={"i": index})
    assert len(trail.events) == MAX_TRAIL_EVENTS
    assert trail.dropped == 2 * (MAX_TRAIL_EVENTS + 60) - MAX_TRAIL_EVENTS
    page = trail.page(after=0)
    assert page.first_id == trail.last_id - MAX_TRAIL_EVENTS + 1
    assert page.events[0].id == page.first_id
    assert len(page.events) == MAX_EVENTS_PAGE
    assert page.more
    assert page.generation == 2
    rest = trail.page(after=page.events[-1].id)
    assert rest.events[0].id == page.events[-1].id + 1
    steps = trail.steps()
    assert len(steps) == MAX_TRAIL_EVENTS // 2  # whole steps only; halves are left out
    assert all(step.outcome == "completed" for step in steps)
    assert steps[-1].call == MAX_TRAIL_EVENTS + 60  # activity ordinals count every call

"""No run stays "running" because of its own tree: a real dev server and worker.

Each tree below used to fail its workflow task on every retry (deadlock detector,
MemoryError) so the run never ended. Now each fails at once with the node path.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from tests.support.temporal_fixtures import StartTree
from tests.support.trees import end, tool_node, tree
from workflows.evaluation import BUDGETS_PATCH

TEXT = "x" * 100_000  # a 100 KB input
ENDS_WITHIN = 60.0  # seconds: a hang guard, not a speed assertion
TEXT_INPUT = {"text": {"type": "string"}}


def _when(rule: str) -> dict[str, Any]:
    return {
        "kind": "decision",
        "branches": [{"to": "e", "when": rule}, {"to": "e", "id": "otherwise"}],
    }


BAD_TREES: dict[str, tuple[dict[str, Any], str, str]] = {
    "list of 10^5 x 300": (
        tree(
            {"t": tool_node("echo", {"value": "{{ [[1] * 300] * 100000 }}"}, next="e"), "e": end()}
        ),
        "nodes.t.args.value: ",
        "TemplateError",
    ),
    "100 KB input joined 10^5 times": (
        tree(
            {
                "t": tool_node(
                    "echo", {"value": "{{ join([inputs.text] * 100000, '') }}"}, next="e"
                ),
                "e": end(),
            },
            inputs=TEXT_INPUT,
        ),
        "nodes.t.args.value: ",
        "TemplateError",
    ),
    "json of a shared structure in a rule": (
        tree(
            {"check": _when("len(json([[inputs.text] * 9] * 1000)) > 0"), "e": end()},
            inputs=TEXT_INPUT,
        ),
        "nodes.check.branches[0].when: ",
        "RuleError",
    ),
    "text built from many copies in the output": (
        tree(
            {"e": end({"summary": "a {{ [inputs.text] * 9 }} b " * 4})},
            inputs=TEXT_INPUT,
        ),
        "nodes.e.output.summary: ",
        "TemplateError",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TREES))
async def test_a_tree_that_exhausts_a_budget_fails_the_run_at_the_node(
    start_tree: StartTree, case: str
) -> None:
    doc, prefix, error_type = BAD_TREES[case]
    inputs = {"text": TEXT} if "inputs" in doc else {}
    handle = await start_tree(doc, inputs)
    with pytest.raises(WorkflowFailureError) as info:
        await asyncio.wait_for(handle.result(), ENDS_WITHIN)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == error_type
    assert cause.message.startswith(prefix), cause.message
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    events = [event async for event in handle.fetch_history_events()]
    assert not any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for e in events)
    markers = [
        e.marker_recorded_event_attributes
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    assert any(BUDGETS_PATCH in str(marker.details) for marker in markers)

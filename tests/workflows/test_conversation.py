"""ConversationWorkflow on the real dev server and worker: turns, bounds, continue-as-new."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from activities.registry import ToolRegistry
from temporal_client.conversations import (
    MessageRefused,
    conversation_start,
    send_message,
)
from tests.support.temporal_fixtures import RunTree, compile_for_tests
from tests.support.trees import end, tool_node
from workflows.conversation import ConversationWorkflow
from workflows.conversation_models import (
    MAX_LIST_ITEMS,
    MAX_SCOPE_TURNS,
    MAX_TEXT_CHARS,
    MAX_TURN_DATA_CHARS,
    ConversationStart,
    Message,
    bounded,
    clip,
    conversation_workflow_id,
)
from workflows.run_models import RunResult

ECHO = {
    "name": "echo",
    "version": "1.0.0",
    "inputs": {"message": {"type": "string"}},
    "start": "reply",
    "nodes": {
        "reply": tool_node(
            "text_response@^1",
            {
                "text": "{{ str(conversation.turn) + ':' + inputs.message + ':'"
                " + str(conversation.last.message) + ':' + str(conversation.last.state.seen) }}"
            },
            set={"seen": "{{ inputs.message }}"},
            next="done",
        ),
        "done": end({"text": "{{ results.reply.text }}"}),
    },
}


def start_for(registry: ToolRegistry, **options: Any) -> ConversationStart:
    return conversation_start(
        compile_for_tests(ECHO, registry),
        tenant_id="tests",
        conversation_id=f"c-{uuid.uuid4().hex[:16]}",
        **options,
    )


async def say(client: Client, worker: str, start: ConversationStart, text: str) -> Any:
    wf_id = conversation_workflow_id(start.tenant_id, start.conversation_id)
    return await send_message(client, wf_id, Message(text=text), start=start, task_queue=worker)


async def test_continues_as_new_after_the_bound_carrying_the_earlier_turns(
    client: Client, worker: str, registry: ToolRegistry
) -> None:
    start = start_for(registry, turns_per_run=2)
    answers = [(await say(client, worker, start, t)).answer["text"] for t in "abcde"]
    # every turn saw the one before it, across two continue-as-new boundaries
    assert answers == ["1:a::", "2:b:a:a", "3:c:b:b", "4:d:c:c", "5:e:d:d"]
    wf_id = conversation_workflow_id(start.tenant_id, start.conversation_id)
    handle = client.get_workflow_handle_for(ConversationWorkflow.run, wf_id)
    view = await handle.query(ConversationWorkflow.conversation)
    assert view.generation == 3
    assert view.turn_count == 5
    assert [t.turn for t in view.turns] == [1, 2, 3, 4, 5]
    # only the latest turn keeps its data; the carried ones are compact
    assert view.turns[-1].state == {"seen": "e"}
    assert all(t.state == {} and t.results == {} for t in view.turns[:-1])
    # the current run's history holds only its own turn (turn 5), not all five
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    children = [
        e
        async for e in handle.fetch_history_events()
        if e.HasField("child_workflow_execution_started_event_attributes")
    ]
    assert len(children) == 1


async def test_the_carried_summary_is_bounded(
    client: Client, worker: str, registry: ToolRegistry
) -> None:
    start = start_for(registry, turns_per_run=3)
    for number in range(MAX_SCOPE_TURNS + 4):
        await say(client, worker, start, f"m{number}")
    wf_id = conversation_workflow_id(start.tenant_id, start.conversation_id)
    handle = client.get_workflow_handle_for(ConversationWorkflow.run, wf_id)
    view = await handle.query(ConversationWorkflow.conversation)
    assert view.turn_count == MAX_SCOPE_TURNS + 4
    # the carried summary (at most MAX_SCOPE_TURNS) plus this run's turns (at most 3)
    assert len(view.turns) <= MAX_SCOPE_TURNS + 3
    assert view.turns[-1].turn == MAX_SCOPE_TURNS + 4


async def test_a_turn_s_run_is_a_run_by_the_runs_convention(
    client: Client, worker: str, registry: ToolRegistry
) -> None:
    start = start_for(registry)
    turn = await say(client, worker, start, "hello")
    assert turn.workflow_id == f"tests:{start.conversation_id}.1"
    result = RunResult.model_validate(await client.get_workflow_handle(turn.workflow_id).result())
    assert result.output == {"text": "1:hello::"}
    assert result.turn_data is not None
    assert result.turn_data["state"] == {"seen": "hello"}


async def test_a_message_after_the_end_is_refused(
    client: Client, worker: str, registry: ToolRegistry
) -> None:
    start = start_for(registry)
    await say(client, worker, start, "hello")
    wf_id = conversation_workflow_id(start.tenant_id, start.conversation_id)
    handle = client.get_workflow_handle_for(ConversationWorkflow.run, wf_id)
    ended = await handle.execute_update(ConversationWorkflow.end)
    assert ended.phase == "ended"
    final = await handle.result()
    assert final.turn_count == 1
    with pytest.raises((RPCError, MessageRefused)):
        await send_message(client, wf_id, Message(text="again"))


async def test_a_plain_run_sees_an_empty_conversation_and_returns_no_turn_data(
    run_tree: RunTree,
) -> None:
    run = await run_tree(ECHO, {"message": "solo"})
    assert run.result.output == {"text": "0:solo::"}
    assert run.result.turn_data is None
    started, *_, completed = [e async for e in run.handle.fetch_history_events()]
    payloads = (
        started.workflow_execution_started_event_attributes.input.payloads[0].data
        + completed.workflow_execution_completed_event_attributes.result.payloads[0].data
    )
    assert b'"conversation":' not in payloads  # a plain run's history did not grow
    assert b"turn_data" not in payloads


def test_turn_data_is_clipped_to_its_bounds() -> None:
    huge = {"objects": [{"body": "x" * 5000, "n": i} for i in range(100)], "small": 1}
    clipped = clip(huge)
    assert len(clipped["objects"]) == MAX_LIST_ITEMS
    assert len(clipped["objects"][0]["body"]) == MAX_TEXT_CHARS + 1
    data = bounded(huge, MAX_TURN_DATA_CHARS)
    size = len(json.dumps(clipped["objects"], sort_keys=True))
    assert data == {"objects": {"truncated": True, "size": size}, "small": 1}
    assert len(json.dumps(data)) <= MAX_TURN_DATA_CHARS
    assert clip({"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}) == {
        "a": {"b": {"c": {"d": {"e": {"f": "…"}}}}}
    }


def test_a_conversation_s_payloads_are_encrypted_for_its_tenant() -> None:
    from foundation.secrets.payload_codec import tenant_of_workflow

    assert tenant_of_workflow(conversation_workflow_id("t-1", "c-0123456789abcdef")) == "t-1"

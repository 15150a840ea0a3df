"""Run template samples and check their expectations (shared by tests and the recorder)."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import Client, WorkflowHandle

import templates
from activities.registry import ToolRegistry
from temporal_client.conversations import conversation_start, message_input, send_message
from temporal_client.run_start import run_request, start_options
from treeflow.follow import answers_from, follow
from treeflow.toolbox import compile_text
from workflows.conversation_models import Message, Turn, conversation_workflow_id
from workflows.run_models import RunResult
from workflows.workflow import DecisionTreeWorkflow


async def run_sample(
    client: Client,
    registry: ToolRegistry,
    template: templates.Template,
    sample: templates.Sample,
    task_queue: str,
) -> tuple[RunResult, WorkflowHandle[Any, Any]]:
    compiled = compile_text(template.text, registry)
    handle = await client.start_workflow(
        DecisionTreeWorkflow.run,
        run_request(compiled, sample.inputs, "samples"),
        **start_options(
            compiled,
            tenant_id="samples",
            workflow_id=f"samples:{template.name}-{sample.name}-{uuid.uuid4().hex[:6]}",
            task_queue=task_queue,
        ),
    )
    result = await follow(handle, answer=answers_from(sample.answers), interval=0.05)
    return result, handle


def expectation_failures(sample: templates.Sample, result: RunResult) -> list[str]:
    """Every way `result` misses the sample's expectation (empty when it matches)."""
    return _misses(sample.expect, result.outcome, result.path, result.output, "output")


def _misses(
    expect: templates.Expectation,
    outcome: str | None,
    path: list[str],
    output: dict[str, Any],
    label: str,
) -> list[str]:
    """Every way an outcome, path and output (called `label`) miss `expect`."""
    failures = []
    if outcome != expect.outcome:
        failures.append(f"outcome {outcome!r} != {expect.outcome!r}")
    failures += [f"path misses {n}" for n in expect.visits if n not in path]
    failures += [f"path includes {n}" for n in expect.skips if n in path]
    for key, fragment in expect.output_contains.items():
        text = str(output.get(key))
        if fragment not in text:
            failures.append(f"{label}.{key} = {text!r} lacks {fragment!r}")
    return failures


async def child_ids(handle: WorkflowHandle[Any, Any]) -> list[str]:
    ids = []
    async for event in handle.fetch_history_events():
        if event.HasField("child_workflow_execution_started_event_attributes"):
            ids.append(
                event.child_workflow_execution_started_event_attributes.workflow_execution.workflow_id
            )
    return ids


async def run_conversation(
    client: Client,
    registry: ToolRegistry,
    template: templates.Template,
    sample: templates.Sample,
    task_queue: str,
) -> tuple[list[Turn], str]:
    """The sample's question, then each follow-up, as the turns of one conversation
    (and the conversation's workflow id)."""
    compiled = compile_text(template.text, registry)
    name = message_input(compiled, None)
    fixed = {k: v for k, v in sample.inputs.items() if k != name}
    start = conversation_start(
        compiled,
        tenant_id="samples",
        conversation_id=f"{template.name}-{sample.name}-{uuid.uuid4().hex[:6]}",
        inputs=fixed,
    )
    wf_id = conversation_workflow_id(start.tenant_id, start.conversation_id)
    messages = [str(sample.inputs[name]), *(f.message for f in sample.follow_ups)]
    turns = []
    for text in messages:
        turns.append(
            await send_message(
                client, wf_id, Message(text=text), start=start, task_queue=task_queue
            )
        )
    return turns, wf_id


def turn_failures(expect: templates.Expectation, turn: Turn) -> list[str]:
    """Every way a conversation turn misses `expect` (empty when it matches)."""
    if turn.status != "completed":
        return [f"turn {turn.turn} {turn.status}: {turn.error}"]
    return _misses(expect, turn.outcome, turn.path, turn.answer or {}, "answer")

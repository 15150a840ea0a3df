"""Run template samples and check their expectations (shared by tests and the recorder)."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import Client, WorkflowHandle

import templates
from activities.registry import ToolRegistry
from temporal_client.run_start import run_request, start_options
from treeflow.follow import answers_from, follow
from treeflow.toolbox import compile_text
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
    expect = sample.expect
    failures = []
    if result.outcome != expect.outcome:
        failures.append(f"outcome {result.outcome!r} != {expect.outcome!r}")
    failures += [f"path misses {n}" for n in expect.visits if n not in result.path]
    failures += [f"path includes {n}" for n in expect.skips if n in result.path]
    for key, fragment in expect.output_contains.items():
        text = str(result.output.get(key))
        if fragment not in text:
            failures.append(f"output.{key} = {text!r} lacks {fragment!r}")
    return failures


async def child_ids(handle: WorkflowHandle[Any, Any]) -> list[str]:
    ids = []
    async for event in handle.fetch_history_events():
        if event.HasField("child_workflow_execution_started_event_attributes"):
            ids.append(
                event.child_workflow_execution_started_event_attributes.workflow_execution.workflow_id
            )
    return ids

"""Every recorded history must replay on today's workflow code.

The histories in tests/histories/ come from running each template sample
(`python -m tests.support.record_histories`). A change to the interpreter that
alters the commands an old run would issue fails here before it reaches a worker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from temporal_client.connection import data_converter
from workflows.run_models import RunRequest, RunResult
from workflows.workflow import WORKFLOW_NAME, DecisionTreeWorkflow

FOLDER = Path(__file__).parents[1] / "histories"
INDEX = json.loads((FOLDER / "index.json").read_text())
HISTORIES = sorted(p for p in FOLDER.glob("*.json") if p.name != "index.json")


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(INDEX[path.stem], path.read_text())


def test_there_is_a_recorded_history_for_every_template_sample() -> None:
    import templates

    expected = {f"{t.name}__{s.name}" for t in templates.all_templates() for s in t.samples}
    recorded = {p.stem for p in HISTORIES if "__child" not in p.stem}
    assert expected <= recorded, f"record histories for: {sorted(expected - recorded)}"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=[DecisionTreeWorkflow], data_converter=data_converter())
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


@workflow.defn(name=WORKFLOW_NAME)
class _ChangedInterpreter(DecisionTreeWorkflow):
    """The interpreter with one unversioned change: a timer before the first node."""

    @workflow.run
    async def run(self, request: RunRequest) -> RunResult:
        await workflow.sleep(0.01)
        return await super().run(request)


async def test_an_unpatched_change_fails_replay() -> None:
    """Proof the replay test has teeth: a non-deterministic change is detected."""
    replayer = Replayer(workflows=[_ChangedInterpreter], data_converter=data_converter())
    failures: dict[str, Any] = {}
    for path in HISTORIES:
        result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
        failures[path.stem] = result.replay_failure
    assert all(isinstance(f, workflow.NondeterminismError) for f in failures.values()), failures


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_recorded_trees_keep_their_hash(path: Path) -> None:
    """New spec fields (agent_args, declarative_tools) must not change an old tree's hash."""
    from workflows.compiled import meaning_hash

    started = load(path).events[0].workflow_execution_started_event_attributes
    request = RunRequest.model_validate_json(started.input.payloads[0].data)
    tree = request.tree
    assert meaning_hash(tree.spec, tree.declarative_tools) == tree.hash

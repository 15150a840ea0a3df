"""Every recorded history must replay on today's workflow code.

The histories in tests/histories/ come from running each template sample
(`python -m tests.support.record_histories`). A change to the interpreter that
alters the commands an old run would issue fails here before it reaches a worker.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow

from tests.support.replay import HISTORIES_ROOT, HistoryFolder
from workflows.run_models import RunRequest, RunResult
from workflows.workflow import WORKFLOW_NAME, DecisionTreeWorkflow

RECORDED = HistoryFolder(HISTORIES_ROOT)
HISTORIES = RECORDED.paths


def test_there_is_a_recorded_history_for_every_template_sample() -> None:
    import templates

    expected = {f"{t.name}__{s.name}" for t in templates.all_templates() for s in t.samples}
    recorded = {p.stem for p in HISTORIES if "__child" not in p.stem}
    assert expected <= recorded, f"record histories for: {sorted(expected - recorded)}"


@pytest.mark.parametrize("path", HISTORIES, ids=RECORDED.ids)
async def test_recorded_history_replays(path: Path) -> None:
    failure = await RECORDED.replay_failure(DecisionTreeWorkflow, path)
    assert failure is None, f"{path.name}: {failure}"


@workflow.defn(name=WORKFLOW_NAME)
class _ChangedInterpreter(DecisionTreeWorkflow):
    """The interpreter with one unversioned change: a timer before the first node."""

    @workflow.run
    async def run(self, request: RunRequest) -> RunResult:
        await workflow.sleep(0.01)
        return await super().run(request)


async def test_an_unpatched_change_fails_replay() -> None:
    """Proof the replay test has teeth: a non-deterministic change is detected."""
    failures: dict[str, Exception | None] = {}
    for path in HISTORIES:
        failures[path.stem] = await RECORDED.replay_failure(_ChangedInterpreter, path)
    assert all(isinstance(f, workflow.NondeterminismError) for f in failures.values()), failures


@pytest.mark.parametrize("path", HISTORIES, ids=RECORDED.ids)
def test_recorded_trees_keep_their_hash(path: Path) -> None:
    """New spec fields (agent_args, declarative_tools) must not change an old tree's hash."""
    from workflows.compiled import meaning_hash

    started = RECORDED.load(path).events[0].workflow_execution_started_event_attributes
    request = RunRequest.model_validate_json(started.input.payloads[0].data)
    tree = request.tree
    assert meaning_hash(tree.spec, tree.declarative_tools) == tree.hash

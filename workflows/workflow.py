"""`DecisionTreeWorkflow`: one workflow type that runs any `CompiledTree`.

This module is the Temporal surface only (run, query, update, signal). The
semantics live in `workflows.tree_interpreter`, imported through the sandbox's passthrough
so that starting a run does not re-import the interpreter. Everything the run
reads comes from its input and its history, so every run replays deterministically.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.run_models import InputAccepted, Progress, RunRequest, RunResult, UserInput
    from workflows.trail import MAX_EVENTS_PAGE, EventPage, StepRecord
    from workflows.tree_interpreter import WORKFLOW_NAME, TreeRun

__all__ = ["WORKFLOW_NAME", "DecisionTreeWorkflow"]


@workflow.defn(name=WORKFLOW_NAME)
class DecisionTreeWorkflow:
    """Interprets a compiled decision tree. One workflow type for every tree."""

    @workflow.init
    def __init__(self, request: RunRequest) -> None:
        self._run = TreeRun(request)

    @workflow.run
    async def run(self, request: RunRequest) -> RunResult:
        return await self._run.execute(request)

    @workflow.query
    def progress(self) -> Progress:
        """Phase, current node, path so far, waiting inputs and (once done) the output."""
        return self._run.progress()

    @workflow.query
    def events(self, after: int) -> EventPage:
        """Run events with id > `after`, oldest first (at most `MAX_EVENTS_PAGE`)."""
        return self._run.trail.page(after, MAX_EVENTS_PAGE)

    @workflow.query
    def steps(self) -> list[StepRecord]:
        """One record per visited node of this generation, folded from the run events."""
        return self._run.trail.steps()

    @workflow.update
    async def submit_input(self, answer: UserInput) -> InputAccepted:
        """Deliver a user's answer; rejected (leaving no history) if nothing waits for it."""
        return self._run.accept_input(answer)

    @submit_input.validator
    def _validate_input(self, answer: UserInput) -> None:
        self._run.validate_input(answer)

    @workflow.signal
    def user_input(self, answer: UserInput) -> None:
        """Fire-and-forget variant of `submit_input`."""
        self._run.signal_input(answer)

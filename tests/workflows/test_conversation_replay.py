"""Recorded conversation histories must replay on today's `ConversationWorkflow`.

Recorded with the template samples that have follow-ups (`python -m
tests.support.record_histories`); each turn's own run is recorded beside the samples'
histories and replayed by tests/workflows/test_replay.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from temporal_client.connection import data_converter
from workflows.conversation import ConversationWorkflow
from workflows.conversation_models import (
    CONVERSATION_WORKFLOW_NAME,
    ConversationStart,
    ConversationView,
)

FOLDER = Path(__file__).parents[1] / "histories" / "conversations"
INDEX = json.loads((FOLDER / "index.json").read_text())
HISTORIES = sorted(p for p in FOLDER.glob("*.json") if p.name != "index.json")


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(INDEX[path.stem], path.read_text())


def test_there_is_a_recorded_conversation_for_every_sample_with_follow_ups() -> None:
    import templates

    expected = {
        f"{t.name}__{s.name}" for t in templates.all_templates() for s in t.samples if s.follow_ups
    }
    assert expected
    assert expected <= {p.stem for p in HISTORIES}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_conversation_replays(path: Path) -> None:
    replayer = Replayer(workflows=[ConversationWorkflow], data_converter=data_converter())
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


@workflow.defn(name=CONVERSATION_WORKFLOW_NAME)
class _ChangedConversation(ConversationWorkflow):
    """The workflow with one unversioned change: a timer before it waits for messages."""

    @workflow.run
    async def run(self, start: ConversationStart) -> ConversationView:
        await workflow.sleep(0.01)
        return await super().run(start)


async def test_an_unpatched_change_fails_conversation_replay() -> None:
    replayer = Replayer(workflows=[_ChangedConversation], data_converter=data_converter())
    for path in HISTORIES:
        result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
        assert isinstance(result.replay_failure, workflow.NondeterminismError), path.name

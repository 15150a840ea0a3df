"""Recorded conversation histories must replay on today's `ConversationWorkflow`.

Recorded with the template samples that have follow-ups (`python -m
tests.support.record_histories`); each turn's own run is recorded beside the samples'
histories and replayed by tests/workflows/test_replay.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow

from tests.support.replay import HISTORIES_ROOT, HistoryFolder
from workflows.conversation import ConversationWorkflow
from workflows.conversation_models import (
    CONVERSATION_WORKFLOW_NAME,
    ConversationStart,
    ConversationView,
)

RECORDED = HistoryFolder(HISTORIES_ROOT / "conversations")
HISTORIES = RECORDED.paths


def test_there_is_a_recorded_conversation_for_every_sample_with_follow_ups() -> None:
    import templates

    expected = {
        f"{t.name}__{s.name}" for t in templates.all_templates() for s in t.samples if s.follow_ups
    }
    assert expected
    assert expected <= {p.stem for p in HISTORIES}


@pytest.mark.parametrize("path", HISTORIES, ids=RECORDED.ids)
async def test_recorded_conversation_replays(path: Path) -> None:
    failure = await RECORDED.replay_failure(ConversationWorkflow, path)
    assert failure is None, f"{path.name}: {failure}"


@workflow.defn(name=CONVERSATION_WORKFLOW_NAME)
class _ChangedConversation(ConversationWorkflow):
    """The workflow with one unversioned change: a timer before it waits for messages."""

    @workflow.run
    async def run(self, start: ConversationStart) -> ConversationView:
        await workflow.sleep(0.01)
        return await super().run(start)


async def test_an_unpatched_change_fails_conversation_replay() -> None:
    for path in HISTORIES:
        failure = await RECORDED.replay_failure(_ChangedConversation, path)
        assert isinstance(failure, workflow.NondeterminismError), path.name

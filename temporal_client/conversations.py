"""Client side of conversations: the workflow's input, its start options, sending a message.

Shared by the API (`api/conversations.py`), `treeflow chat` and the tests. A message is
the `send_message` update of `ConversationWorkflow`; `send_message` here sends it with
update-with-start when given the conversation's start (create-or-continue), and
turns the update's refusals into `MessageRefused` with the reason's type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError

from temporal_client.run_start import InputProblem, InvalidInputs, check_inputs
from workflows import search_attributes
from workflows.compiled import CompiledTree
from workflows.conversation import ConversationWorkflow
from workflows.conversation_models import (
    ConversationStart,
    ConversationView,
    Message,
    Turn,
    conversation_workflow_id,
)

CONTINUE_RETRIES = 50
CONTINUE_RETRY_SECONDS = 0.1
"""How long a message waits for a conversation that is continuing as new (5 s)."""
DEFAULT_MESSAGE_INPUT = "message"
"""The input a message fills when the tree declares none."""


def message_input(tree: CompiledTree, requested: str | None) -> str:
    """The tree input each message fills: `requested`, else the one declared string input.

    Raises `InvalidInputs` (field `input`) when neither names a usable input.
    """
    declared = tree.spec.inputs
    if requested is not None:
        if declared is not None and requested not in declared:
            names = ", ".join(sorted(declared)) or "none"
            raise InvalidInputs(
                [InputProblem("input", f"the tree declares no input '{requested}' ({names})")]
            )
        return requested
    if declared is None:
        return DEFAULT_MESSAGE_INPUT
    strings = [name for name, spec in declared.items() if spec.type == "string"]
    if len(strings) != 1:
        raise InvalidInputs(
            [InputProblem("input", "name the tree input each message fills (its string input)")]
        )
    return strings[0]


def conversation_start(
    tree: CompiledTree,
    *,
    tenant_id: str,
    conversation_id: str,
    inputs: Mapping[str, Any] | None = None,
    input_name: str | None = None,
    memo: Mapping[str, Any] | None = None,
    turns_per_run: int | None = None,
) -> ConversationStart:
    """A validated `ConversationWorkflow` input; raises `InvalidInputs` naming bad fields."""
    name = message_input(tree, input_name)
    fixed = dict(inputs or {})
    problems = check_inputs(tree, {**fixed, name: "?"})
    if problems:
        raise InvalidInputs(problems)
    extra = {"turns_per_run": turns_per_run} if turns_per_run is not None else {}
    return ConversationStart(
        conversation_id=conversation_id,
        tenant_id=tenant_id,
        tree=tree,
        message_input=name,
        inputs=fixed,
        memo=dict(memo or {}),
        **extra,
    )


def start_options(start: ConversationStart, task_queue: str) -> dict[str, Any]:
    """Keyword arguments for starting the conversation's workflow."""
    tree = start.tree
    return {
        "id": conversation_workflow_id(start.tenant_id, start.conversation_id),
        "task_queue": task_queue,
        "search_attributes": search_attributes.for_run(
            start.tenant_id, tree.name, tree.version, tree.hash
        ),
        "memo": {
            "conversation": start.conversation_id,
            "tree": tree.name,
            "message_input": start.message_input,
        }
        | start.memo,
        "static_summary": f"conversation {start.conversation_id} with {tree.name} {tree.version}",
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
    }


@dataclass(frozen=True, slots=True)
class MessageRefused(Exception):
    """The conversation refused a message: `kind` is `TurnInProgress`, `TurnMismatch`
    or `ConversationEnded`."""

    kind: str
    reason: str

    def __str__(self) -> str:
        return self.reason


async def send_message(
    client: Client,
    workflow_id: str,
    message: Message,
    *,
    start: ConversationStart | None = None,
    task_queue: str | None = None,
) -> Turn:
    """Send `message` and wait for its answered turn.

    With `start` (and `task_queue`) the conversation is started first if it does not
    run yet (update-with-start); without, it must exist.
    """
    for _ in range(CONTINUE_RETRIES):
        try:
            return await _send(client, workflow_id, message, start, task_queue)
        except MessageRefused as refused:
            if refused.kind != "ContinuingAsNew":
                raise
            await asyncio.sleep(CONTINUE_RETRY_SECONDS)
    return await _send(client, workflow_id, message, start, task_queue)


async def _send(
    client: Client,
    workflow_id: str,
    message: Message,
    start: ConversationStart | None,
    task_queue: str | None,
) -> Turn:
    try:
        if start is None:
            handle = client.get_workflow_handle_for(ConversationWorkflow.run, workflow_id)
            accepted = await handle.execute_update(ConversationWorkflow.send_message, message)
        else:
            assert task_queue is not None, "starting a conversation needs its task queue"
            operation = WithStartWorkflowOperation(
                ConversationWorkflow.run, start, **start_options(start, task_queue)
            )
            accepted = await client.execute_update_with_start_workflow(
                ConversationWorkflow.send_message, message, start_workflow_operation=operation
            )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise MessageRefused(cause.type or "Refused", cause.message) from None
        raise
    return accepted.turn


async def read(client: Client, workflow_id: str) -> ConversationView:
    """The conversation's view from its workflow (query while open, result once ended)."""
    handle = client.get_workflow_handle_for(ConversationWorkflow.run, workflow_id)
    return await handle.query(ConversationWorkflow.conversation)

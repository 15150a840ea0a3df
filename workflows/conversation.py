"""`ConversationWorkflow`: a durable thread of messages answered by one tree.

One workflow per conversation holds its turns. Each message is the `send_message`
update: its handler runs the conversation's tree as a child `DecisionTreeWorkflow`
whose id follows the runs' convention (`<tenant>:<conversation id>.<turn>`), with the
earlier turns in `RunRequest.conversation`, and returns once the turn's run ended.

One message at a time: a message sent while another is being answered is rejected by
the update's validator (no history is written; the API answers 409), as is a message
that names a turn other than the next one, or any message after `end`. After
`turns_per_run` turns the workflow continues as new, carrying the last
`MAX_SCOPE_TURNS` turns (see workflows/conversation_models.py for every bound).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from workflows.conversation_models import (
        CONVERSATION_WORKFLOW_NAME,
        MAX_ANSWER_CHARS,
        MAX_PATH_ITEMS,
        MAX_SCOPE_TURNS,
        ConversationContext,
        ConversationPhase,
        ConversationStart,
        ConversationView,
        Message,
        Turn,
        TurnAccepted,
        bounded,
        run_key,
        turn_workflow_id,
    )
    from workflows.run_models import RunRequest, RunResult
    from workflows.search_attributes import for_run
    from workflows.tool_routing import TOOLS_MEMO_KEY, pinned_activities
    from workflows.tree_interpreter import WORKFLOW_NAME

__all__ = ["CONVERSATION_WORKFLOW_NAME", "ConversationWorkflow"]

TURN_RUN_TIMEOUT = timedelta(hours=1)
"""Longest a turn's run may take; it then fails and the conversation takes messages again."""


@workflow.defn(name=CONVERSATION_WORKFLOW_NAME)
class ConversationWorkflow:
    """Answers messages one at a time with runs of one compiled tree."""

    @workflow.init
    def __init__(self, start: ConversationStart) -> None:
        self._start = start
        self._earlier: list[Turn] = list(start.earlier)
        self._turns: list[Turn] = []
        self._count = start.turn_count
        self._answering = False
        self._ended = False

    @workflow.run
    async def run(self, start: ConversationStart) -> ConversationView:
        await workflow.wait_condition(
            lambda: self._ended or len(self._turns) >= start.turns_per_run
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._ended:
            return self.conversation()
        held = [*self._earlier, *self._turns]
        carried = [t.compact() for t in held[-MAX_SCOPE_TURNS:-1]] + held[-1:]
        workflow.continue_as_new(
            start.model_copy(
                update={
                    "earlier": carried,
                    "turn_count": self._count,
                    "generation": start.generation + 1,
                }
            )
        )

    # ------------------------------------------------------------ messages

    @workflow.update
    async def send_message(self, message: Message) -> TurnAccepted:
        """Answer `message` with a run of the tree; returns the finished turn."""
        self._answering = True
        self._count += 1
        number = self._count
        start = self._start
        context = self._context(number)
        turn = Turn(
            turn=number,
            message=message.text,
            message_id=message.id,
            run=run_key(start.conversation_id, number),
            workflow_id=turn_workflow_id(start.tenant_id, start.conversation_id, number),
        )
        self._turns.append(turn)
        try:
            finished = await self._answer(turn, context)
        finally:
            self._answering = False
        self._turns[-1] = finished
        if len(self._turns) > 1:
            self._turns[-2] = self._turns[-2].compact()
        elif self._earlier:
            self._earlier[-1] = self._earlier[-1].compact()
        return TurnAccepted(turn=finished)

    @send_message.validator
    def _validate_message(self, message: Message) -> None:
        if self._ended:
            raise ApplicationError("the conversation has ended", type="ConversationEnded")
        if len(self._turns) >= self._start.turns_per_run and not self._answering:
            raise ApplicationError(
                "the conversation is continuing as new; send the message again",
                type="ContinuingAsNew",
            )
        if self._answering:
            raise ApplicationError(
                f"turn {self._count} is still being answered; send the next message after it",
                type="TurnInProgress",
            )
        if message.turn is not None and message.turn != self._count + 1:
            raise ApplicationError(
                f"the next turn is {self._count + 1}, not {message.turn}", type="TurnMismatch"
            )

    @workflow.update
    async def end(self) -> ConversationView:
        """End the conversation once no turn is being answered; later messages are refused."""
        await workflow.wait_condition(lambda: not self._answering)
        self._ended = True
        return self.conversation()

    @workflow.query
    def conversation(self) -> ConversationView:
        """The conversation's phase and the turns this workflow holds."""
        tree = self._start.tree
        phase: ConversationPhase = (
            "ended" if self._ended else "answering" if self._answering else "idle"
        )
        return ConversationView(
            conversation_id=self._start.conversation_id,
            tree=tree.name,
            tree_version=tree.version,
            tree_hash=tree.hash,
            phase=phase,
            turn_count=self._count,
            generation=self._start.generation,
            turns=[*self._earlier, *self._turns],
        )

    # ------------------------------------------------------------ one turn

    def _context(self, number: int) -> ConversationContext:
        """The `conversation` scope of turn `number`: the turns before it."""
        held = [*self._earlier, *self._turns]
        earlier = [t.compact() for t in held[-MAX_SCOPE_TURNS:]]
        return ConversationContext(
            id=self._start.conversation_id,
            turn=number,
            turns=earlier,
            last=held[-1] if held else None,
        )

    async def _answer(self, turn: Turn, context: ConversationContext) -> Turn:
        start = self._start
        tree = start.tree
        request = RunRequest(
            tree=tree,
            inputs={**start.inputs, start.message_input: turn.message},
            tenant_id=start.tenant_id,
            conversation=context,
        )
        try:
            result: RunResult = await workflow.execute_child_workflow(
                WORKFLOW_NAME,
                request,
                id=turn.workflow_id,
                search_attributes=for_run(start.tenant_id, tree.name, tree.version, tree.hash),
                memo={
                    "tree": tree.name,
                    "tree_version": tree.version,
                    "tree_hash": tree.hash,
                    TOOLS_MEMO_KEY: pinned_activities(tree),
                    "conversation": start.conversation_id,
                    "turn": turn.turn,
                    **start.memo,
                },
                static_summary=f"turn {turn.turn} of conversation {start.conversation_id}",
                execution_timeout=TURN_RUN_TIMEOUT,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                result_type=RunResult,
            )
        except ChildWorkflowError as exc:
            return turn.model_copy(update={"status": "failed", "error": _message(exc)})
        return turn.model_copy(update=_finished(result))


def _finished(result: RunResult) -> dict[str, Any]:
    data = result.turn_data or {}
    return {
        "status": "completed",
        "outcome": result.outcome,
        "answer": bounded(result.output, MAX_ANSWER_CHARS),
        "path": result.path[-MAX_PATH_ITEMS:],
        "state": data.get("state") or {},
        "results": data.get("results") or {},
    }


def _message(error: BaseException) -> str:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ApplicationError):
            return f"{cause.type}: {cause.message}" if cause.type else cause.message
        cause = cause.__cause__
    return str(error)

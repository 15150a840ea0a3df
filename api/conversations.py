"""Conversations: create one for a tree, send messages, list them with their runs, end it.

Temporal holds the state: one `ConversationWorkflow` per conversation (id
`<tenant>:conversation/<id>`, so another tenant's conversation is simply not found).
Each message is its `send_message` update, answered by a run of the tree whose key is
`<conversation id>.<turn>`; a `runs` row is written for it as soon as the update is
accepted, so `GET /runs/{key}` (and its event stream) serve every turn. One message
at a time: a message sent while another is answered gets 409 `turn-in-progress`.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.conversation_views import (
    ConversationLinks,
    ConversationOut,
    ConversationPage,
    ConversationSummary,
    MessageLinks,
    MessageOut,
    MessagePage,
)
from api.db.models import RunRecord
from api.paging import PageTokens, visibility_page
from api.problems import FieldError, ProblemError, conflict, not_found
from api.run_policy import (
    EnforceToolAllowList,
    GateFlaggedTools,
    RejectInvalidRequest,
    ResolveTreeVersion,
    StartAttempt,
    StartPolicy,
    StartRequest,
)
from api.runs import RunService, TreeRef, request_hash
from temporal_client import conversations as conv_client
from temporal_client.run_start import InvalidInputs
from workflows import search_attributes as sa_keys
from workflows.conversation import ConversationWorkflow
from workflows.conversation_models import (
    CONVERSATION_WORKFLOW_NAME,
    ConversationView,
    Message,
    Turn,
    TurnAccepted,
    conversation_workflow_id,
    run_key,
)

MESSAGE_WAIT_SECONDS = 60.0
"""Longest `POST .../messages` waits for the answer; then it answers 202 with the run."""
QUERY_TIMEOUT = timedelta(seconds=5)

_REFUSALS = {
    "TurnInProgress": "turn-in-progress",
    "TurnMismatch": "turn-in-progress",
    "ContinuingAsNew": "turn-in-progress",
    "ConversationEnded": "conversation-ended",
}


@dataclass(frozen=True, slots=True)
class _TurnOf:
    """Whose message and which tree answers it: what recording and following a turn share."""

    tenant_id: uuid.UUID
    actor: str
    tree: TreeRef
    tree_id: str


@dataclass(slots=True)
class _Found:
    """A conversation's workflow, as `describe` found it."""

    handle: WorkflowHandle[Any, Any]
    memo: dict[str, Any]
    created_at: datetime | None
    running: bool

    async def view(self, *, refresh: bool = False) -> ConversationView:
        """Its state: the query while it runs, the result (the final view) once ended."""
        if refresh:
            self.running = (await self.handle.describe()).status in (
                WorkflowExecutionStatus.RUNNING,
                None,
            )
        if not self.running:
            result: ConversationView = await self.handle.result()
            return result
        view: ConversationView = await self.handle.query(
            ConversationWorkflow.conversation, rpc_timeout=QUERY_TIMEOUT
        )
        return view


class ConversationService:
    """Everything the conversation routes do (stateless: Temporal holds the state)."""

    def __init__(self, runs: RunService) -> None:
        self._runs = runs
        self._policy = StartPolicy(
            [
                ResolveTreeVersion(runs.plans),
                GateFlaggedTools(),
                EnforceToolAllowList(),
                RejectInvalidRequest(),
            ]
        )

    # ------------------------------------------------------------ create

    async def create(
        self,
        session: AsyncSession,
        client: Client,
        request: StartRequest,
        input_name: str | None,
        first_message: str | None = None,
        *,
        wait: bool = True,
    ) -> ConversationOut:
        """Start the conversation; with `first_message`, send it in the same call
        (update-with-start) and include it (answered when `wait` and in time)."""
        attempt = StartAttempt(request, session, client, digest="")
        await self._policy.apply(attempt)
        plan = attempt.resolved
        await session.rollback()
        tenant = str(request.tenant_id)
        conversation_id = request.key
        try:
            start = conv_client.conversation_start(
                plan.compiled,
                tenant_id=tenant,
                conversation_id=conversation_id,
                inputs=request.inputs,
                input_name=input_name,
                memo={
                    "tree_id": str(plan.tree_id),
                    "tree_version_number": plan.number,
                    "started_by": request.actor,
                },
            )
        except InvalidInputs as exc:
            raise ProblemError(
                422,
                "the conversation's inputs do not fit the tree",
                errors=[
                    FieldError(field=f"body.{p.field}", message=p.message) for p in exc.problems
                ],
            ) from None
        options = conv_client.start_options(start, self._runs.temporal.task_queue)
        tree = TreeRef(name=plan.compiled.name, version=plan.number, hash=plan.compiled.hash)
        created = ConversationOut(
            id=conversation_id,
            tree=tree,
            status="idle",
            message_input=start.message_input,
            turn_count=0,
            links=self._links(request.tenant_id, conversation_id),
        )
        if first_message is None:
            await client.start_workflow(ConversationWorkflow.run, start, **options)
            return created
        # A new id: the first message cannot meet another turn, so it is accepted.
        message = Message(text=first_message, turn=1, id=uuid.uuid4().hex)
        update = await client.start_update_with_start_workflow(
            ConversationWorkflow.send_message,
            message,
            start_workflow_operation=WithStartWorkflowOperation(
                ConversationWorkflow.run, start, **options
            ),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        turn_of = _TurnOf(request.tenant_id, request.actor, tree, str(plan.tree_id))
        sent, answered = await self._follow(
            session, turn_of, conversation_id, message, update, wait
        )
        return created.model_copy(
            update={
                "turn_count": 1,
                "status": "idle" if answered else "answering",
                "message": sent,
            }
        )

    # ------------------------------------------------------------ read

    async def get(
        self, client: Client, tenant_id: uuid.UUID, conversation_id: str
    ) -> ConversationOut:
        found = await self._describe(client, tenant_id, conversation_id)
        return self._out(tenant_id, await found.view(), found)

    async def messages(
        self, client: Client, tenant_id: uuid.UUID, conversation_id: str
    ) -> MessagePage:
        view = await (await self._describe(client, tenant_id, conversation_id)).view()
        return MessagePage(
            messages=[self._message(tenant_id, t) for t in view.turns], turn_count=view.turn_count
        )

    async def list(
        self,
        client: Client,
        tenant_id: uuid.UUID,
        *,
        tree: str | None,
        limit: int,
        page_token: str | None,
        page_tokens: PageTokens,
    ) -> ConversationPage:
        """The tenant's conversations from Temporal visibility, newest first."""
        clauses = [
            f"{sa_keys.TENANT_ID.name} = '{tenant_id}'",
            f"WorkflowType = '{CONVERSATION_WORKFLOW_NAME}'",
        ]
        if tree is not None:
            clauses.append(f"{sa_keys.TREE_NAME.name} = '{tree}'")
        query = " AND ".join(clauses)
        executions, next_page_token = await visibility_page(
            client, page_tokens, "conversations", tenant_id, query, page_token, limit
        )
        prefix = conversation_workflow_id(str(tenant_id), "")
        found = []
        for execution in executions:
            if not execution.id.startswith(prefix):
                continue
            conversation_id = execution.id[len(prefix) :]
            attrs = execution.typed_search_attributes
            found.append(
                ConversationSummary(
                    id=conversation_id,
                    tree=attrs.get(sa_keys.TREE_NAME),
                    tree_version=attrs.get(sa_keys.TREE_VERSION),
                    status="open"
                    if execution.status in (WorkflowExecutionStatus.RUNNING, None)
                    else "ended",
                    started_at=execution.start_time,
                    closed_at=execution.close_time,
                    links=self._links(tenant_id, conversation_id),
                )
            )
        return ConversationPage(conversations=found, next_page_token=next_page_token)

    # ------------------------------------------------------------ send, end

    async def send(
        self,
        session: AsyncSession,
        client: Client,
        tenant_id: uuid.UUID,
        actor: str,
        conversation_id: str,
        text: str,
        *,
        wait: bool,
    ) -> tuple[MessageOut, bool]:
        """Send a message; (the message, whether its answer is in it)."""
        found = await self._describe(client, tenant_id, conversation_id)
        handle, memo = found.handle, found.memo
        view = await found.view()
        if view.phase == "ended":
            raise conflict("the conversation has ended", "conversation-ended")
        turn = view.turn_count + 1
        message = Message(text=text, turn=turn, id=uuid.uuid4().hex)
        try:
            update = await handle.start_update(
                ConversationWorkflow.send_message,
                message,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )
            if not await self._accepted(found, message):
                await update.result()  # a rejected update's outcome is known: this raises
        except WorkflowUpdateFailedError as exc:
            raise _refused(exc) from None
        except RPCError as exc:
            raise _closed(exc) from None
        tree = TreeRef(
            name=view.tree, version=int(memo["tree_version_number"]), hash=view.tree_hash
        )
        turn_of = _TurnOf(tenant_id, actor, tree, str(memo["tree_id"]))
        return await self._follow(session, turn_of, conversation_id, message, update, wait)

    async def _follow(
        self,
        session: AsyncSession,
        turn_of: _TurnOf,
        conversation_id: str,
        message: Message,
        update: WorkflowUpdateHandle[TurnAccepted],
        wait: bool,
    ) -> tuple[MessageOut, bool]:
        """After an accepted message: record its run, then wait for the answer if asked."""
        assert message.turn is not None
        key = run_key(conversation_id, message.turn)
        await self._record_run(session, turn_of, key, message.text)
        tenant_id = turn_of.tenant_id
        pending = Turn(
            turn=message.turn, message=message.text, run=key, workflow_id=f"{tenant_id}:{key}"
        )
        if not wait:
            return self._message(tenant_id, pending), False
        try:
            accepted = await asyncio.wait_for(update.result(), MESSAGE_WAIT_SECONDS)
        except TimeoutError:
            return self._message(tenant_id, pending), False
        return self._message(tenant_id, accepted.turn), True

    async def end(
        self, client: Client, tenant_id: uuid.UUID, conversation_id: str
    ) -> ConversationOut:
        """End the conversation (after the turn being answered, if any); idempotent."""
        found = await self._describe(client, tenant_id, conversation_id)
        if not found.running:
            return self._out(tenant_id, await found.view(), found)
        try:
            view = await found.handle.execute_update(ConversationWorkflow.end)
        except (RPCError, WorkflowUpdateFailedError):
            view = await found.view(refresh=True)  # it ended meanwhile: its result says so
        return self._out(tenant_id, view, found)

    # ------------------------------------------------------------ helpers

    async def _describe(self, client: Client, tenant_id: uuid.UUID, conversation_id: str) -> _Found:
        wf_id = conversation_workflow_id(str(tenant_id), conversation_id)
        handle = client.get_workflow_handle_for(ConversationWorkflow.run, wf_id)
        try:
            description = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise not_found("conversation") from None
            raise
        if description.workflow_type != CONVERSATION_WORKFLOW_NAME:
            raise not_found("conversation")
        running = description.status in (WorkflowExecutionStatus.RUNNING, None)
        return _Found(handle, dict(await description.memo()), description.start_time, running)

    async def _accepted(self, found: _Found, message: Message) -> bool:
        """Whether the conversation took `message` (the SDK tells an accepted update from
        a rejected one only through its result, so the message carries an id)."""
        view = await found.view()
        return any(t.turn == message.turn and t.message_id == message.id for t in view.turns)

    async def _record_run(
        self, session: AsyncSession, turn_of: _TurnOf, key: str, text: str
    ) -> None:
        """The `runs` row of a turn, so the run routes serve it like any run."""
        tenant_id, tree = turn_of.tenant_id, turn_of.tree
        session.add(
            RunRecord(
                tenant_id=tenant_id,
                key=key,
                workflow_id=f"{tenant_id}:{key}",
                first_run_id="",
                tree_id=uuid.UUID(turn_of.tree_id),
                tree_name=tree.name,
                tree_version=tree.version,
                tree_hash=tree.hash,
                request_hash=request_hash(tree.name, tree.version, {"message": text}),
                created_by=turn_of.actor,
            )
        )
        try:
            await session.commit()
        except IntegrityError:  # a run already holds this key; the turn fails on its own
            await session.rollback()

    def _links(self, tenant_id: uuid.UUID, conversation_id: str) -> ConversationLinks:
        base = f"/v1/tenants/{tenant_id}/conversations/{conversation_id}"
        wf_id = conversation_workflow_id(str(tenant_id), conversation_id)
        return ConversationLinks(
            self=base, messages=f"{base}/messages", temporal_ui=self._runs.temporal.run_url(wf_id)
        )

    def _out(self, tenant_id: uuid.UUID, view: ConversationView, found: _Found) -> ConversationOut:
        memo = found.memo
        return ConversationOut(
            id=view.conversation_id,
            tree=TreeRef(
                name=view.tree, version=int(memo.get("tree_version_number", 0)), hash=view.tree_hash
            ),
            status=view.phase,
            message_input=str(memo.get("message_input", "")),
            turn_count=view.turn_count,
            created_at=found.created_at,
            links=self._links(tenant_id, view.conversation_id),
        )

    def _message(self, tenant_id: uuid.UUID, turn: Turn) -> MessageOut:
        run = f"/v1/tenants/{tenant_id}/runs/{turn.run}"
        return MessageOut(
            turn=turn.turn,
            text=turn.message,
            status=turn.status,
            run=turn.run,
            outcome=turn.outcome,
            answer=turn.answer,
            error=turn.error,
            path=turn.path,
            links=MessageLinks(run=run, events=f"{run}/events"),
        )


def new_conversation_id() -> str:
    return f"c-{uuid.uuid4().hex[:16]}"


def _refused(error: WorkflowUpdateFailedError) -> ProblemError:
    cause = error.cause
    kind = cause.type if isinstance(cause, ApplicationError) else None
    reason = getattr(cause, "message", None) or "the message was refused"
    return conflict(reason, _REFUSALS.get(kind or "", "message-refused"))


def _closed(error: RPCError) -> ProblemError:
    if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
        return conflict("the conversation has ended", "conversation-ended")
    return ProblemError(503, "Temporal did not take the message; retry", type_="about:blank")

"""Conversations: create one for a tree, send messages, list them with their runs, end it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from api.conversation_views import ConversationOut, ConversationPage, MessageOut, MessagePage
from api.conversations import ConversationService, new_conversation_id
from api.deps import ServicesDep, TemporalDep
from api.paging import MAX_PAGE_TOKEN_CHARS
from api.rbac import Access, Permission, requires
from api.routes.common import RESPONSES, TenantCall, strict_body, tenant_call
from api.run_policy import StartRequest
from workflows.conversation_models import MAX_USER_MESSAGE_CHARS
from workflows.limits import MAX_VERSION_NUMBER
from workflows.spec import TREE_NAME_PATTERN

router = APIRouter(
    prefix="/v1/tenants/{tenant_id}/conversations", tags=["conversations"], responses=RESPONSES
)
ConversationId = Annotated[str, Path(pattern=r"^c-[0-9a-f]{16}$", examples=["c-8f3a2b1c9d0e4f55"])]
Starting = Annotated[TenantCall, tenant_call(Permission.RUNS_START)]
Ending = Annotated[TenantCall, tenant_call(Permission.RUNS_CANCEL)]  # its session stays unused


class CreateConversation(BaseModel):
    model_config = strict_body({"tree": "ticket-agent"})

    tree: str = Field(pattern=TREE_NAME_PATTERN)
    version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_VERSION_NUMBER,
        description="Default: the published version, else the latest. Every turn runs it.",
    )
    input: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        description="The tree input each message fills; default: its one string input.",
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Other inputs, the same for every turn."
    )
    message: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_USER_MESSAGE_CHARS,
        description="A first message, sent in the same call (update-with-start); the "
        "response's `message` holds it (answered unless `wait=false`).",
    )


class SendMessage(BaseModel):
    model_config = strict_body({"text": "How many billing tickets are open?"})

    text: str = Field(min_length=1, max_length=MAX_USER_MESSAGE_CHARS)


def _service(services: ServicesDep) -> ConversationService:
    return ConversationService(services.runs)


class ConversationRead:
    """What the handlers that read a conversation take: read access to the tenant's runs,
    the conversation service and Temporal (no database session)."""

    def __init__(
        self,
        access: Annotated[Access, requires(Permission.RUNS_READ)],
        services: ServicesDep,
        client: TemporalDep,
    ) -> None:
        assert access.tenant_id is not None
        self.tenant_id, self.service, self.client = access.tenant_id, _service(services), client
        self.page_tokens = services.page_tokens


Reading = Annotated[ConversationRead, Depends()]


@router.post("", status_code=201)
async def create_conversation(
    body: CreateConversation,
    response: Response,
    call: Starting,
    wait: Annotated[
        bool, Query(description="With a first message: wait for its answer (up to 60 s).")
    ] = True,
) -> ConversationOut:
    """Start a conversation answered by a tree (pinned to one version for all its turns),
    optionally with its first message."""
    request = StartRequest(
        tenant_id=call.tenant_id,
        settings=await call.tenant_settings(),
        actor=call.actor,
        key=new_conversation_id(),
        tree_name=body.tree,
        version=body.version,
        inputs=body.inputs,
        flags=call.services.flags,
    )
    created = await _service(call.services).create(
        call.session, call.client, request, body.input, body.message, wait=wait
    )
    response.headers["Location"] = created.links.self
    call.audit.target(created.id)
    call.audit.detail(
        tree=created.tree.name,
        version=created.tree.version,
        message=created.message.run if created.message else None,
    )
    return created


@router.get("")
async def list_conversations(
    read: Reading,
    tree: Annotated[
        str | None, Query(pattern=TREE_NAME_PATTERN, description="Only this tree's.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[
        str | None,
        Query(
            max_length=MAX_PAGE_TOKEN_CHARS,
            description="`next_page_token` of the previous page, unchanged (same filters).",
        ),
    ] = None,
) -> ConversationPage:
    """This tenant's conversations from Temporal visibility, newest first (eventually
    consistent): to resume one, GET its messages."""
    return await read.service.list(
        read.client,
        read.tenant_id,
        tree=tree,
        limit=limit,
        page_token=page_token,
        page_tokens=read.page_tokens,
    )


@router.get("/{conversation_id}")
async def get_conversation(conversation_id: ConversationId, read: Reading) -> ConversationOut:
    """The conversation's tree, status (idle, answering, ended) and number of turns."""
    return await read.service.get(read.client, read.tenant_id, conversation_id)


@router.post(
    "/{conversation_id}/messages",
    responses={
        202: {"description": "Accepted; the answer is not in the body yet (follow the run)."},
        409: {"description": "Another message is being answered, or the conversation ended."},
    },
)
async def send_message(
    conversation_id: ConversationId,
    body: SendMessage,
    response: Response,
    call: Starting,
    wait: Annotated[
        bool,
        Query(description="Wait for the answer (up to 60 s, then 202); false: 202 at once."),
    ] = True,
) -> MessageOut:
    """Send a message; its answer is a run of the tree that sees the earlier turns.

    One message at a time: while a turn is answered, another message gets 409
    `turn-in-progress` (nothing is queued or recorded)."""
    message, answered = await _service(call.services).send(
        call.session,
        call.client,
        call.tenant_id,
        call.actor,
        conversation_id,
        body.text,
        wait=wait,
    )
    if not answered:
        response.status_code = 202
    response.headers["Location"] = message.links.run
    call.audit.target(message.run)
    call.audit.detail(conversation=conversation_id, turn=message.turn)
    return message


@router.get("/{conversation_id}/messages")
async def list_messages(conversation_id: ConversationId, read: Reading) -> MessagePage:
    """The messages the conversation holds (its last turns), oldest first, with their runs."""
    return await read.service.messages(read.client, read.tenant_id, conversation_id)


@router.post("/{conversation_id}/end")
async def end_conversation(conversation_id: ConversationId, call: Ending) -> ConversationOut:
    """End the conversation after the turn being answered, if any; later messages get 409."""
    ended = await _service(call.services).end(call.client, call.tenant_id, conversation_id)
    call.audit.target(conversation_id)
    return ended


@router.delete("/{conversation_id}")
async def delete_conversation(conversation_id: ConversationId, call: Ending) -> ConversationOut:
    """The same as `POST .../end` (its runs and their records stay)."""
    return await end_conversation(conversation_id, call)

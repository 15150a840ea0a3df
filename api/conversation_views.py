"""What the conversation routes answer: a conversation, its messages (with their runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.runs import TreeRef


class ConversationLinks(BaseModel):
    self: str = Field(examples=["/v1/tenants/5d1c.../conversations/c-8f3a2b1c9d0e4f55"])
    messages: str = Field(
        examples=["/v1/tenants/5d1c.../conversations/c-8f3a2b1c9d0e4f55/messages"]
    )
    temporal_ui: str


class ConversationOut(BaseModel):
    """A conversation as the API shows it."""

    id: str = Field(examples=["c-8f3a2b1c9d0e4f55"])
    tree: TreeRef
    status: Literal["idle", "answering", "ended"]
    message_input: str = Field(description="The tree input each message fills.")
    turn_count: int
    created_at: datetime | None = None
    links: ConversationLinks
    message: MessageOut | None = Field(
        default=None, description="Only when created with a first message: that message."
    )


class MessageLinks(BaseModel):
    run: str = Field(examples=["/v1/tenants/5d1c.../runs/c-8f3a2b1c9d0e4f55.1"])
    events: str = Field(examples=["/v1/tenants/5d1c.../runs/c-8f3a2b1c9d0e4f55.1/events"])


class MessageOut(BaseModel):
    """One message and the run that answered it."""

    turn: int = Field(examples=[1])
    text: str = Field(examples=["How many billing tickets are open?"])
    status: Literal["answering", "completed", "failed"]
    run: str = Field(description="The turn's run key.", examples=["c-8f3a2b1c9d0e4f55.1"])
    outcome: str | None = None
    answer: dict[str, Any] | None = Field(
        default=None, examples=[{"answer": "12 tickets match. Most tickets: Atlas CRM (4)"}]
    )
    error: str | None = None
    path: list[str] = Field(default_factory=list, examples=[["decide", "analyze", "respond"]])
    links: MessageLinks


class MessagePage(BaseModel):
    messages: list[MessageOut]
    turn_count: int = Field(
        description="Turns sent so far; older ones than `messages` holds remain as runs."
    )


class ConversationSummary(BaseModel):
    """A conversation as a list shows it (from Temporal visibility)."""

    id: str = Field(examples=["c-8f3a2b1c9d0e4f55"])
    tree: str | None = Field(default=None, examples=["ticket-agent"])
    tree_version: str | None = None
    status: Literal["open", "ended"] = Field(
        description="`open` until ended (idle or answering: GET the conversation to know)."
    )
    started_at: datetime | None = None
    closed_at: datetime | None = None
    links: ConversationLinks


class ConversationPage(BaseModel):
    conversations: list[ConversationSummary]
    next_page_token: str | None = None


ConversationOut.model_rebuild()

"""`text_response`: the final answer of a run, written from templated text."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, Field

from activities.sdk import ToolContext, tool


class TextResponseInput(BaseModel):
    text: str = Field(description="The response shown to the user; usually a template.")
    format: Literal["plain", "markdown"] = "plain"


class TextResponseOutput(BaseModel):
    text: str
    format: Literal["plain", "markdown"]


@tool(name="text_response", version="1.0.0", timeout=timedelta(seconds=10))
async def text_response(args: TextResponseInput, ctx: ToolContext) -> TextResponseOutput:
    """Reply to the user with text. Use it to end a conversation turn with an answer."""
    return TextResponseOutput(text=args.text.strip(), format=args.format)

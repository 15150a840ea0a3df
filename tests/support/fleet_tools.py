"""Two versions of one tool, shippable separately to worker processes.

`TREEFLOW_WORKER_TOOL_MODULES=["tests.support.fleet_tools:V1"]` hosts only `tag@1.0.0`,
`...:V2` only `tag@2.0.0`, `...:BOTH` both: enough to play a rolling deploy.
"""

from __future__ import annotations

from pydantic import BaseModel

from activities.sdk import ToolContext, tool


class TagInput(BaseModel):
    text: str = ""


class TagOutput(BaseModel):
    tagged: str
    version: str


@tool(name="tag", version="1.0.0")
async def tag_v1(args: TagInput, ctx: ToolContext) -> TagOutput:
    """Tag the text the version-1 way."""
    return TagOutput(tagged=f"v1:{args.text}", version="1.0.0")


@tool(name="tag", version="2.0.0")
async def tag_v2(args: TagInput, ctx: ToolContext) -> TagOutput:
    """Tag the text the version-2 way."""
    return TagOutput(tagged=f"v2:{args.text}", version="2.0.0")


V1 = [tag_v1]
V2 = [tag_v2]
BOTH = [tag_v1, tag_v2]

"""Feature flags for tenant admins: every flag and its effective value for a context.

Flags are managed in Unleash (or in the flags file of the embedded default); this
API shows what they evaluate to for the tenant, a user and a tree, which is what a
run start or an API feature check sees. It is itself behind the `api.flags` flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.problems import not_found
from api.rbac import Access, Permission, requires
from api.routes.common import RESPONSES, RowOut
from foundation.flags.client import FlagClient, FlagContext

router = APIRouter(prefix="/v1/tenants/{tenant_id}/flags", tags=["flags"], responses=RESPONSES)
FEATURE_FLAG = "api.flags"


class FlagOut(RowOut):
    name: str = Field(examples=["tool.http_request"])
    enabled: bool
    type: str = Field(examples=["release"])
    description: str | None = None
    variant: str | None = Field(default=None, description="The variant chosen, if any.")
    payload: str | None = Field(default=None, description="The variant's payload value.")


class FlagList(BaseModel):
    backend: str = Field(examples=["server"], description="`embedded` or `server`.")
    context: dict[str, str] = Field(examples=[{"tenant_id": "...", "user_id": "...", "tree": "t"}])
    flags: list[FlagOut]


@dataclass(frozen=True)
class Evaluation:
    """The context a flag request asks about and the flags client to evaluate it with."""

    context: FlagContext
    flags: FlagClient


async def _evaluation(
    request: Request,
    access: Annotated[Access, requires(Permission.FLAGS_READ)],
    user_id: Annotated[str | None, Query(max_length=200)] = None,
    tree: Annotated[str | None, Query(max_length=200)] = None,
) -> Evaluation:
    """The tenant's context (and a user's and tree's); 404 while `api.flags` is off."""
    assert access.tenant_id is not None
    context = FlagContext(
        tenant_id=str(access.tenant_id), user_id=user_id or access.actor.subject, tree=tree
    )
    flags: FlagClient = request.app.state.services.flags
    if not flags.enabled(FEATURE_FLAG, context, default=True):
        raise not_found("resource")
    return Evaluation(context, flags)


Evaluating = Annotated[Evaluation, Depends(_evaluation)]


@router.get("")
async def list_flags(asked: Evaluating) -> FlagList:
    """Every flag with its effective value for this tenant (and a user and tree)."""
    context = asked.context
    shown = {"tenant_id": context.tenant_id, "user_id": context.user_id or ""}
    if context.tree:
        shown["tree"] = context.tree
    return FlagList(
        backend=asked.flags.mode,
        context=shown,
        flags=[FlagOut.of(v) for v in asked.flags.evaluate_all(context)],
    )


@router.get("/{name}")
async def get_flag(name: str, asked: Evaluating) -> FlagOut:
    """One flag's effective value for this tenant (and a user and tree)."""
    for value in asked.flags.evaluate_all(asked.context):
        if value.name == name:
            return FlagOut.of(value)
    raise not_found("flag")

"""Feature flags for tenant admins: every flag and its effective value for a context.

Flags are managed in Unleash (or in the flags file of the embedded default); this
API shows what they evaluate to for the tenant, a user and a tree, which is what a
run start or an API feature check sees. It is itself behind the `api.flags` flag.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.problems import not_found
from api.rbac import Access, Permission, requires
from api.routes.common import RESPONSES
from foundation.flags.client import FlagClient, FlagContext, FlagValue

router = APIRouter(prefix="/v1/tenants/{tenant_id}/flags", tags=["flags"], responses=RESPONSES)
FEATURE_FLAG = "api.flags"


class FlagOut(BaseModel):
    name: str = Field(examples=["tool.http_request"])
    enabled: bool
    type: str = Field(examples=["release"])
    description: str | None = None
    variant: str | None = Field(default=None, description="The variant chosen, if any.")
    payload: str | None = Field(default=None, description="The variant's payload value.")

    @classmethod
    def of(cls, value: FlagValue) -> FlagOut:
        return cls(
            name=value.name,
            enabled=value.enabled,
            type=value.type,
            description=value.description,
            variant=value.variant,
            payload=value.payload,
        )


class FlagList(BaseModel):
    backend: str = Field(examples=["server"], description="`embedded` or `server`.")
    context: dict[str, str] = Field(examples=[{"tenant_id": "...", "user_id": "...", "tree": "t"}])
    flags: list[FlagOut]


def _context(access: Access, user_id: str | None, tree: str | None) -> FlagContext:
    assert access.tenant_id is not None
    return FlagContext(
        tenant_id=str(access.tenant_id), user_id=user_id or access.actor.subject, tree=tree
    )


def _flags(request: Request, context: FlagContext) -> FlagClient:
    flags: FlagClient = request.app.state.services.flags
    if not flags.enabled(FEATURE_FLAG, context, default=True):
        raise not_found("resource")
    return flags


@router.get("")
async def list_flags(
    request: Request,
    access: Annotated[Access, requires(Permission.FLAGS_READ)],
    user_id: Annotated[str | None, Query(max_length=200)] = None,
    tree: Annotated[str | None, Query(max_length=200)] = None,
) -> FlagList:
    """Every flag with its effective value for this tenant (and a user and tree)."""
    context = _context(access, user_id, tree)
    flags = _flags(request, context)
    shown = {"tenant_id": context.tenant_id, "user_id": context.user_id or ""}
    if tree:
        shown["tree"] = tree
    return FlagList(
        backend=flags.mode,
        context=shown,
        flags=[FlagOut.of(v) for v in flags.evaluate_all(context)],
    )


@router.get("/{name}")
async def get_flag(
    request: Request,
    name: str,
    access: Annotated[Access, requires(Permission.FLAGS_READ)],
    user_id: Annotated[str | None, Query(max_length=200)] = None,
    tree: Annotated[str | None, Query(max_length=200)] = None,
) -> FlagOut:
    """One flag's effective value for this tenant (and a user and tree)."""
    context = _context(access, user_id, tree)
    flags = _flags(request, context)
    for value in flags.evaluate_all(context):
        if value.name == name:
            return FlagOut.of(value)
    raise not_found("flag")

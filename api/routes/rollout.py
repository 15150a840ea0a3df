"""A tree's rollout state: what its `tree.<name>.rollout` flag does to runs started now.

Readable by every member who can read the tree (the flags API is for admins), so the
Studio's versions view can show it. Flags are managed in Unleash (or the embedded flags
file), never through this API: this route only reports how they evaluate.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api import trees
from api.rbac import Permission
from api.routes.common import RESPONSES, TenantScope, tenant_scope
from api.routes.trees import TreeName
from foundation.flags.client import FlagClient, FlagContext
from foundation.flags.rollout import decide_rollout, rollout_flag

router = APIRouter(prefix="/v1/tenants/{tenant_id}/trees", tags=["trees"], responses=RESPONSES)
SAMPLE_KEYS = 200
"""Run keys evaluated to measure the candidate's share (a percentage rollout is sticky by key)."""


class RolloutOut(BaseModel):
    flag: str = Field(examples=["tree.support-triage.rollout"])
    defined: bool = Field(description="Whether the flag exists (without it: `stable_version`).")
    stable_version: int | None = Field(description="The published version: runs naming none.")
    candidate_version: int | None = Field(
        description="The version the flag routes runs to (its variant payload, else the newest "
        "version when it is newer than the published one); null when there is none."
    )
    candidate_share: float = Field(
        ge=0,
        le=1,
        description=f"Share of {SAMPLE_KEYS} sample run keys routed to the candidate.",
    )
    variant: str | None = Field(default=None, description="The flag's variant, if any.")


def _state(
    flags: FlagClient, tree: str, context: FlagContext, stable: int | None, newest: int
) -> RolloutOut:
    flag = rollout_flag(tree)
    base = RolloutOut(
        flag=flag,
        defined=flags.known(flag),
        stable_version=stable,
        candidate_version=None,
        candidate_share=0.0,
    )
    if not base.defined or stable is None:
        return base
    candidate = str(newest) if newest > stable else None
    routed: dict[str, int] = {}
    variant = None
    for i in range(SAMPLE_KEYS):
        sample = FlagContext(
            context.tenant_id, user_id=context.user_id, tree=tree, session_id=f"k-{i}"
        )
        decision = decide_rollout(
            flags, tree, stable=str(stable), candidate=candidate, context=sample
        )
        if decision is not None and decision.arm == "candidate" and decision.version.isdigit():
            routed[decision.version] = routed.get(decision.version, 0) + 1
            variant = decision.variant or variant
    if not routed:
        return base
    version = max(routed, key=routed.__getitem__)
    return base.model_copy(
        update={
            "candidate_version": int(version),
            "candidate_share": sum(routed.values()) / SAMPLE_KEYS,
            "variant": variant,
        }
    )


@router.get("/{name}/rollout")
async def get_rollout(
    name: TreeName,
    call: Annotated[TenantScope, tenant_scope(Permission.TREES_READ)],
) -> RolloutOut:
    """How the tree's rollout flag routes runs that name no version, for this caller."""
    tree = await trees.get_tree(call.session, call.tenant_id, name)
    context = FlagContext(str(call.tenant_id), user_id=call.actor, tree=name)
    return _state(call.services.flags, name, context, tree.published_version, tree.latest_version)

"""The caller: identity, operator flag and tenant memberships."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.db.models import Role, User
from api.deprecation import deprecated_since
from api.deps import CurrentPrincipal, SessionDep
from api.rbac import Permission, requires
from api.routes.common import RESPONSES

router = APIRouter(prefix="/v1", tags=["me"], responses=RESPONSES)


class MembershipOut(BaseModel):
    tenant_id: str = Field(examples=["5d1c0c1e-8d1b-4b7a-9a39-6c7d1e2f3a4b"])
    role: Role


class Me(BaseModel):
    subject: str = Field(examples=["user:0b6f6a57-3c1e-4f7e-9a51-2f3f3d8c2a10"])
    kind: str = Field(examples=["user"], description="`user` or `api_key`.")
    email: str | None = Field(default=None, examples=["ada@example.com"])
    display_name: str | None = Field(default=None, examples=["Ada Lovelace"])
    operator: bool = Field(examples=[False])
    memberships: list[MembershipOut]


async def _me(principal: CurrentPrincipal, session: SessionDep) -> Me:
    user = await session.get(User, principal.user_id) if principal.user_id else None
    return Me(
        subject=principal.subject,
        kind="user" if principal.user_id else "api_key",
        email=user.email if user else None,
        display_name=user.display_name if user else None,
        operator=principal.operator,
        memberships=[
            MembershipOut(tenant_id=str(t), role=r) for t, r in sorted(principal.roles.items())
        ],
    )


@router.get("/me", dependencies=[requires(Permission.SELF)])
async def me(principal: CurrentPrincipal, session: SessionDep) -> Me:
    """Who you are and what you belong to (roles as of your access token)."""
    return await _me(principal, session)


# Kept for clients of the first preview; see docs/api-versioning.md.
WHOAMI_DEPRECATED = date(2026, 11, 1)
WHOAMI_SUNSET = date(2027, 6, 30)


@router.get(
    "/whoami",
    deprecated=True,
    dependencies=[requires(Permission.SELF)],
    summary="Who am I (deprecated: use /v1/me)",
)
async def whoami(
    principal: CurrentPrincipal,
    session: SessionDep,
    _marker: None = deprecated_since(WHOAMI_DEPRECATED, sunset=WHOAMI_SUNSET, successor="/v1/me"),
) -> Me:
    """Deprecated alias of ``GET /v1/me``; answers with ``Deprecation`` and ``Sunset`` headers."""
    return await _me(principal, session)

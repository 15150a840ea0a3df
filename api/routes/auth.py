"""Login (OAuth2/OIDC code + PKCE), token refresh with rotation, and logout."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from api.auth.oidc import LoginClient, LoginError, ProviderUnavailableError
from api.auth.provisioning import provision
from api.auth.refresh import InvalidRefreshTokenError, RefreshReuseError
from api.auth.sessions import TokenPair, access_for, start_session
from api.db.models import User
from api.deps import AuditDep, ServicesDep, SessionDep
from api.problems import PROBLEM_BASE, ProblemError, not_found, unauthorized
from api.rbac import Permission, requires
from api.routes.common import RESPONSES

log = logging.getLogger("treeflow.api.auth")
router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=RESPONSES)
PUBLIC = [requires(Permission.PUBLIC)]
ProviderName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
RefreshTokenText = Annotated[
    str, Field(min_length=1, max_length=128, examples=["tfr_Jx3...rotates-on-every-use"])
]


class Provider(BaseModel):
    name: str = Field(examples=["google"])
    login_url: str = Field(examples=["/v1/auth/login/google"])


class Providers(BaseModel):
    providers: list[Provider]


class Tokens(BaseModel):
    """A session: a short-lived access token and a single-use refresh token."""

    access_token: str = Field(
        examples=["eyJhbGciOiJSUzI1NiIsImtpZCI6IjIwMjYtMTEiLCJ0eXAiOiJhdCtqd3QifQ..."]
    )
    token_type: str = Field(default="Bearer", examples=["Bearer"])
    expires_in: int = Field(examples=[300], description="Access-token lifetime in seconds.")
    refresh_token: str = Field(examples=["tfr_Jx3...rotates-on-every-use"])
    user_id: str = Field(examples=["0b6f6a57-3c1e-4f7e-9a51-2f3f3d8c2a10"])

    @classmethod
    def of(cls, pair: TokenPair) -> Tokens:
        return cls(
            access_token=pair.access_token,
            expires_in=pair.expires_in,
            refresh_token=pair.refresh_token,
            user_id=str(pair.user_id),
        )


class RefreshRequest(BaseModel):
    refresh_token: RefreshTokenText


def _bad_gateway(name: str) -> ProblemError:
    return ProblemError(
        502, f"login provider {name!r} is unavailable", type_=PROBLEM_BASE + "provider-unavailable"
    )


@router.get("/providers", dependencies=PUBLIC)
async def providers(services: ServicesDep) -> Providers:
    """Configured login providers."""
    return Providers(
        providers=[
            Provider(name=n, login_url=f"/v1/auth/login/{n}") for n in services.login.provider_names
        ]
    )


@router.get(
    "/login/{provider}",
    dependencies=PUBLIC,
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "Redirect to the provider's authorization page."}},
)
async def login(
    provider: ProviderName,
    services: ServicesDep,
    session: SessionDep,
    client: Annotated[
        LoginClient,
        Query(
            description="`studio`: the provider sends the browser back to the Studio's "
            "sign-in page, which redeems the code at `/v1/auth/callback/{provider}`."
        ),
    ] = "api",
) -> RedirectResponse:
    """Start an authorization-code + PKCE login at ``provider``."""
    if not services.login.has(provider):
        raise not_found("provider")
    try:
        url = await services.login.begin(session, provider, client)
    except ProviderUnavailableError:
        raise _bad_gateway(provider) from None
    await session.commit()
    return RedirectResponse(url, status_code=302)


@router.get("/callback/{provider}", dependencies=PUBLIC)
async def callback(
    provider: ProviderName,
    services: ServicesDep,
    session: SessionDep,
    audit: AuditDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=128)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Tokens:
    """Finish the login: provision the user on first login and open a session."""
    if not services.login.has(provider):
        raise not_found("provider")
    if error or not code or not state:
        raise unauthorized("login failed")
    try:
        identity = await services.login.complete(session, provider, code, state)
    except LoginError as exc:
        await session.commit()  # the login state is single use even when the login fails
        log.info("login at %s failed: %s", provider, exc)
        raise unauthorized("login failed") from None
    except ProviderUnavailableError:
        raise _bad_gateway(provider) from None
    user, created = await provision(session, identity)
    if not user.is_active:
        await session.commit()
        raise unauthorized("login failed")
    pair = await start_session(session, services.tokens, services.refresh, user)
    await session.commit()
    audit.actor(f"user:{user.id}")
    audit.detail(provider=provider, first_login=created)
    return Tokens.of(pair)


@router.post("/refresh", dependencies=PUBLIC)
async def refresh(
    body: RefreshRequest, services: ServicesDep, session: SessionDep, audit: AuditDep
) -> Tokens:
    """Exchange a refresh token for a new pair. Each refresh token works once: presenting a
    used one revokes its whole family (the session has been stolen or replayed)."""
    try:
        issued = await services.refresh.rotate(session, body.refresh_token)
    except RefreshReuseError as exc:
        await session.commit()
        audit.actor(f"user:{exc.user_id}")
        audit.detail(reuse_detected=True, family=str(exc.family_id))
        log.warning("refresh token reuse: family %s revoked", exc.family_id)
        raise unauthorized("invalid or expired refresh token") from None
    except InvalidRefreshTokenError:
        raise unauthorized("invalid or expired refresh token") from None
    user = await session.get(User, issued.user_id)
    if user is None or not user.is_active:
        await session.rollback()
        raise unauthorized("invalid or expired refresh token")
    pair = await access_for(session, services.tokens, user, issued)
    await session.commit()
    audit.actor(f"user:{user.id}")
    return Tokens.of(pair)


@router.post("/logout", dependencies=PUBLIC, status_code=204)
async def logout(
    body: RefreshRequest, services: ServicesDep, session: SessionDep, audit: AuditDep
) -> None:
    """Revoke the session (the refresh token's whole family)."""
    try:
        user_id = await services.refresh.revoke(session, body.refresh_token)
    except InvalidRefreshTokenError:
        raise unauthorized("invalid refresh token") from None
    await session.commit()
    audit.actor(f"user:{user_id}")

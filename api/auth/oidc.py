"""OAuth2 / OpenID Connect login with authorization code + PKCE, through authlib.

Providers come from settings: any OIDC issuer (discovery), Google (OIDC), and GitHub
(OAuth2 plus its user API, since GitHub issues no ID token). The pending login (state,
PKCE verifier, nonce) lives in the database, so any API replica can finish it; it is
single use and expires after ``login_state_ttl_seconds``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import sqlalchemy as sa
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.models import LoginState, utcnow
from api.settings import OIDCProvider

log = logging.getLogger("treeflow.api.oidc")

GOOGLE_METADATA = "https://accounts.google.com/.well-known/openid-configuration"
GITHUB_AUTHORIZE = "https://github.com/login/oauth/authorize"
GITHUB_TOKEN = "https://github.com/login/oauth/access_token"  # noqa: S105 - a URL
GITHUB_API = "https://api.github.com/"
LoginClient = Literal["api", "studio"]


class LoginError(Exception):
    """The login could not be completed (bad state, provider refused, bad ID token)."""


class ProviderUnavailableError(Exception):
    """The provider could not be reached or answered garbage."""


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    """Who the provider says logged in."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str


class LoginFlows:
    """The configured providers and the two halves of the code + PKCE flow."""

    def __init__(
        self, providers: list[OIDCProvider], public_url: str, state_ttl_seconds: int = 600
    ) -> None:
        self._providers = {p.name: p for p in providers}
        self._public_url = public_url
        self._state_ttl = timedelta(seconds=state_ttl_seconds)
        self._oauth = OAuth()
        for provider in providers:
            self._register(provider)

    def _register(self, p: OIDCProvider) -> None:
        client_kwargs: dict[str, Any] = {"code_challenge_method": "S256", "timeout": 10.0}
        if p.client_secret is None:
            client_kwargs["token_endpoint_auth_method"] = "none"  # noqa: S105 - public client
        kwargs: dict[str, Any] = {
            "client_id": p.client_id,
            "client_secret": p.client_secret.get_secret_value() if p.client_secret else None,
        }
        if p.kind == "github":
            client_kwargs["scope"] = " ".join(p.scopes or ["read:user", "user:email"])
            kwargs.update(
                authorize_url=p.authorize_url or GITHUB_AUTHORIZE,
                access_token_url=p.token_url or GITHUB_TOKEN,
                api_base_url=p.api_base_url or GITHUB_API,
            )
        else:
            client_kwargs["scope"] = " ".join(p.scopes or ["openid", "email", "profile"])
            issuer = (p.issuer or "").rstrip("/")
            kwargs["server_metadata_url"] = (
                GOOGLE_METADATA
                if p.kind == "google"
                else f"{issuer}/.well-known/openid-configuration"
            )
        self._oauth.register(p.name, client_kwargs=client_kwargs, **kwargs)

    @property
    def provider_names(self) -> list[str]:
        """Names of the configured providers."""
        return sorted(self._providers)

    def has(self, name: str) -> bool:
        """Whether ``name`` is a configured provider."""
        return name in self._providers

    def redirect_uri(self, name: str, client: LoginClient = "api") -> str:
        """The callback URL registered with the provider: the API's own (which answers the
        tokens as JSON), or the Studio's page (which redeems the code at the API's)."""
        if client == "studio":
            return f"{self._public_url}/studio/auth/callback/{name}"
        return f"{self._public_url}/v1/auth/callback/{name}"

    async def begin(self, session: AsyncSession, name: str, client: LoginClient = "api") -> str:
        """Record a pending login and return the provider's authorization URL."""
        redirect_uri = self.redirect_uri(name, client)
        oauth_client = self._oauth.create_client(name)
        try:
            rv = await oauth_client.create_authorization_url(redirect_uri)
        except Exception as exc:  # transport errors (httpx or httpx2), bad metadata
            raise ProviderUnavailableError(name) from exc
        session.add(
            LoginState(
                state=rv["state"],
                provider=name,
                code_verifier=rv["code_verifier"],
                nonce=rv.get("nonce"),
                redirect_uri=redirect_uri,
                created_at=utcnow(),
            )
        )
        return str(rv["url"])

    async def complete(
        self, session: AsyncSession, name: str, code: str, state: str
    ) -> ExternalIdentity:
        """Check the state, redeem the code with the PKCE verifier, and identify the user."""
        pending = await session.get(LoginState, state)
        if pending is None or pending.provider != name:
            raise LoginError("unknown or used login state")
        await session.delete(pending)
        await session.flush()
        if pending.created_at + self._state_ttl < utcnow():
            raise LoginError("login state expired")
        client = self._oauth.create_client(name)
        try:
            token = await client.fetch_access_token(
                redirect_uri=pending.redirect_uri or self.redirect_uri(name),
                code=code,
                code_verifier=pending.code_verifier,
            )
            if self._providers[name].kind == "github":
                return await self._github_identity(client, name, token)
            return await self._oidc_identity(client, name, token, pending.nonce)
        except OAuthError as exc:
            raise LoginError(f"provider refused the login: {exc.error}") from exc
        except (JoseError, ValueError) as exc:
            raise LoginError("invalid ID token") from exc
        except LoginError:
            raise
        except Exception as exc:  # transport errors (httpx or httpx2), garbage answers
            raise ProviderUnavailableError(name) from exc

    async def _oidc_identity(
        self, client: Any, name: str, token: dict[str, Any], nonce: str | None
    ) -> ExternalIdentity:
        if "id_token" not in token:
            raise LoginError("the provider returned no ID token")
        claims = dict(await client.parse_id_token(token, nonce=nonce))
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise LoginError("ID token without subject")
        if not claims.get("email"):
            metadata = await client.load_server_metadata()
            if metadata.get("userinfo_endpoint"):
                info = dict(await client.userinfo(token=token))
                if info.get("sub") == subject:
                    claims = {**info, **claims}
        email = claims.get("email")
        return ExternalIdentity(
            provider=name,
            subject=subject,
            email=email.lower() if isinstance(email, str) else None,
            email_verified=claims.get("email_verified") is True,
            name=str(claims.get("name") or claims.get("preferred_username") or subject)[:200],
        )

    async def _github_identity(
        self, client: Any, name: str, token: dict[str, Any]
    ) -> ExternalIdentity:
        user_resp = await client.get("user", token=token)
        user_resp.raise_for_status()
        user = user_resp.json()
        emails_resp = await client.get("user/emails", token=token)
        emails = emails_resp.json() if emails_resp.status_code == 200 else []
        primary = next(
            (e for e in emails if isinstance(e, dict) and e.get("primary") and e.get("verified")),
            None,
        )
        if not isinstance(user, dict) or "id" not in user:
            raise LoginError("GitHub returned no user id")
        email = primary.get("email") if primary else None
        return ExternalIdentity(
            provider=name,
            subject=str(user["id"]),
            email=email.lower() if isinstance(email, str) else None,
            email_verified=primary is not None,
            name=str(user.get("name") or user.get("login") or user["id"])[:200],
        )

    async def purge_expired(self, session: AsyncSession) -> None:
        """Delete pending logins older than the state lifetime."""
        await session.execute(
            sa.delete(LoginState).where(LoginState.created_at < utcnow() - self._state_ttl)
        )

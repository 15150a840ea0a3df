"""Turn the ``Authorization`` header into a :class:`Principal` (JWT or API key).

Failed attempts count against :class:`~api.auth.abuse.AuthFailureLimiter`; access tokens
of a logged-out session are refused through :class:`~api.auth.revocation.SessionRevocations`.
"""

from __future__ import annotations

from typing import NoReturn

from starlette.requests import Request

from api.auth.abuse import AuthFailureLimiter
from api.auth.apikeys import KEY_PREFIX, ApiKeyService, InvalidApiKeyError
from api.auth.principal import Principal
from api.auth.revocation import SessionRevocations
from api.auth.tokens import InvalidTokenError, TokenService
from api.problems import too_many_requests, unauthorized


def _key_prefix(credential: str) -> str | None:
    """The public part of an API-key string (``tfk_<16 hex>``), if it has that shape."""
    public_id = credential[len(KEY_PREFIX) :].partition("_")[0]
    return public_id if credential.startswith(KEY_PREFIX) and len(public_id) == 16 else None


class Authenticator:
    """Bearer authentication: ``tfk_...`` strings are API keys, anything else a JWT."""

    def __init__(
        self,
        tokens: TokenService,
        api_keys: ApiKeyService,
        failures: AuthFailureLimiter,
        revocations: SessionRevocations,
    ) -> None:
        self._tokens = tokens
        self._api_keys = api_keys
        self._failures = failures
        self._revocations = revocations

    async def authenticate(self, request: Request) -> Principal:
        """The caller, or a 401 problem that does not say which check failed (429 when the
        caller has failed too often)."""
        state = request.scope.setdefault("state", {})
        header = request.headers.get("authorization")
        if not header:
            state["auth_failure"] = "missing_credentials"
            raise unauthorized()
        client = request.client
        ip = str(state.get("client_ip") or (client.host if client else "unknown"))
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            state["auth_failure"] = "malformed_credentials"
            await self._refuse(state, ip, None, "authentication required")
        prefix = _key_prefix(credential)
        try:
            if credential.startswith(KEY_PREFIX):
                wait = self._failures.blocked(ip, prefix)
                if wait is not None and not self._api_keys.is_cached(credential):
                    # Over the failure limit: answered from memory, no database lookup.
                    state["rate_limit_scope"] = "auth_failures"
                    raise too_many_requests(wait)
                return await self._api_keys.authenticate(credential)
            principal = self._tokens.verify(credential)
            if principal.session_id is not None and await self._revocations.is_revoked(
                principal.session_id
            ):
                raise InvalidTokenError("session revoked")
            return principal
        except (InvalidTokenError, InvalidApiKeyError) as exc:
            # The reason goes to metrics only; the response never says which check failed.
            state["auth_failure"] = (
                "invalid_api_key" if isinstance(exc, InvalidApiKeyError) else "invalid_token"
            )
            await self._refuse(state, ip, prefix, "invalid or expired credentials")

    async def _refuse(
        self, state: dict[str, object], ip: str, prefix: str | None, detail: str
    ) -> NoReturn:
        """Count the failure; 429 once a failure limit is exceeded, else 401."""
        wait = await self._failures.failed(ip, prefix)
        if wait is not None:
            state["rate_limit_scope"] = "auth_failures"
            raise too_many_requests(wait)
        raise unauthorized(detail)

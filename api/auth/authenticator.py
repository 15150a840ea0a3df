"""Turn the ``Authorization`` header into a :class:`Principal` (JWT or API key)."""

from __future__ import annotations

from starlette.requests import Request

from api.auth.apikeys import KEY_PREFIX, ApiKeyService, InvalidApiKeyError
from api.auth.principal import Principal
from api.auth.tokens import InvalidTokenError, TokenService
from api.problems import unauthorized


class Authenticator:
    """Bearer authentication: ``tfk_...`` strings are API keys, anything else a JWT."""

    def __init__(self, tokens: TokenService, api_keys: ApiKeyService) -> None:
        self._tokens = tokens
        self._api_keys = api_keys

    async def authenticate(self, request: Request) -> Principal:
        """The caller, or a 401 problem that does not say which check failed."""
        state = request.scope.setdefault("state", {})
        header = request.headers.get("authorization")
        if not header:
            state["auth_failure"] = "missing_credentials"
            raise unauthorized()
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            state["auth_failure"] = "malformed_credentials"
            raise unauthorized()
        try:
            if credential.startswith(KEY_PREFIX):
                return await self._api_keys.authenticate(credential)
            return self._tokens.verify(credential)
        except (InvalidTokenError, InvalidApiKeyError) as exc:
            # The reason goes to metrics only; the response never says which check failed.
            state["auth_failure"] = (
                "invalid_api_key" if isinstance(exc, InvalidApiKeyError) else "invalid_token"
            )
            raise unauthorized("invalid or expired credentials") from None

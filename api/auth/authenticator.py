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
        header = request.headers.get("authorization")
        if not header:
            raise unauthorized()
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise unauthorized()
        try:
            if credential.startswith(KEY_PREFIX):
                return await self._api_keys.authenticate(credential)
            return self._tokens.verify(credential)
        except (InvalidTokenError, InvalidApiKeyError):
            raise unauthorized("invalid or expired credentials") from None

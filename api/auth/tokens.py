"""Short-lived access tokens: JWTs signed with joserfc (authlib's JOSE implementation).

Verification checks the algorithm against the key (no ``alg: none``, no algorithm
confusion), the ``kid`` against the published key set, the signature, then ``iss``,
``aud``, ``exp`` and ``nbf``. Verified tokens are cached until they expire, so a client
that reuses its token pays for one signature check, not one per request.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from cachetools import TLRUCache
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from api.auth.principal import Principal
from api.db.models import Role

SigningKey = RSAKey | ECKey | OKPKey
_ALG_BY_KTY = {"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"}
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - the RFC 9068 media type


class InvalidTokenError(Exception):
    """The token is not one this API issued, or no longer valid. Always answered with 401."""


def generate_signing_key(kid: str | None = None) -> RSAKey:
    """A new RSA-2048 private key with a ``kid`` (dev mode and tests; production configures)."""
    return RSAKey.generate_key(2048, parameters={"kid": kid or secrets.token_hex(8), "use": "sig"})


def load_signing_keys(jwks: Sequence[str]) -> list[SigningKey]:
    """Parse private JWKs (JSON text); each needs a ``kid``."""
    keys: list[SigningKey] = []
    for text in jwks:
        data = json.loads(text)
        kty = data.get("kty")
        cls: type[SigningKey]
        if kty == "RSA":
            cls = RSAKey
        elif kty == "EC":
            cls = ECKey
        elif kty == "OKP":
            cls = OKPKey
        else:
            raise ValueError(f"unsupported JWK key type {kty!r}")
        if not data.get("kid"):
            raise ValueError("every signing key needs a kid")
        keys.append(cls.import_key(data))
    return keys


def _b64json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


class TokenService:
    """Issues and verifies access tokens. The first key signs; all keys verify."""

    def __init__(
        self,
        keys: Sequence[SigningKey],
        *,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        leeway_seconds: int = 10,
        cache_size: int = 50_000,
    ) -> None:
        if not keys:
            raise ValueError("at least one signing key is required")
        self._keys = {str(k.kid): k for k in keys}
        self._active = keys[0]
        self._issuer = issuer
        self._audience = audience
        self.ttl_seconds = ttl_seconds
        self._leeway = leeway_seconds
        # Verified tokens until they expire (plus leeway), least recently used evicted.
        self._cache: TLRUCache[str, tuple[float, Principal]] = TLRUCache(
            maxsize=cache_size, ttu=lambda _token, hit, _now: hit[0], timer=time.time
        )
        self._jwks = {
            "keys": [
                {**k.as_dict(private=False), "alg": _ALG_BY_KTY[k.key_type], "use": "sig"}
                for k in keys
            ]
        }

    def jwks(self) -> dict[str, Any]:
        """The public JWK set (``/.well-known/jwks.json``)."""
        return self._jwks

    def issue(
        self,
        user_id: uuid.UUID,
        roles: Mapping[uuid.UUID, Role],
        *,
        operator: bool = False,
        session_id: uuid.UUID | None = None,
        now: float | None = None,
    ) -> str:
        """A signed access token for a user with its tenant roles (and login session)."""
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": f"user:{user_id}",
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.ttl_seconds,
            "jti": secrets.token_hex(12),
            "op": operator,
            "ten": {str(t): r.value for t, r in roles.items()},
        }
        if session_id is not None:
            claims["sid"] = str(session_id)
        return self.sign(claims)

    def sign(self, claims: Mapping[str, Any], header: Mapping[str, Any] | None = None) -> str:
        """Sign arbitrary claims with the active key (tests use this to forge bad tokens)."""
        key = self._active
        protected = {
            "alg": _ALG_BY_KTY[key.key_type],
            "kid": key.kid,
            "typ": ACCESS_TOKEN_TYPE,
            **(header or {}),
        }
        payload = json.dumps(dict(claims), separators=(",", ":"))
        return jws.serialize_compact(protected, payload, key)

    def verify(self, token: str, now: float | None = None) -> Principal:
        """Return the caller a token names, or raise :class:`InvalidTokenError`."""
        moment = now if now is not None else time.time()
        cached = self._cache.get(token)
        if cached is not None:
            if cached[0] > moment:
                return cached[1]
            del self._cache[token]
            raise InvalidTokenError("expired")
        exp, principal = self._verify(token, moment)
        self._cache[token] = (exp, principal)
        return principal

    def _verify(self, token: str, moment: float) -> tuple[float, Principal]:
        parts = token.split(".")
        if len(parts) != 3 or not all(parts):
            raise InvalidTokenError("malformed")
        try:
            header = _b64json(parts[0])
        except ValueError as exc:
            raise InvalidTokenError("malformed header") from exc
        if not isinstance(header, dict):
            raise InvalidTokenError("malformed header")
        key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise InvalidTokenError("unknown kid")
        alg = _ALG_BY_KTY[key.key_type]
        if header.get("alg") != alg or header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidTokenError("unexpected alg or typ")
        try:
            obj = jws.deserialize_compact(token, key, algorithms=[alg])
            claims = json.loads(obj.payload or b"")
        except (JoseError, ValueError) as exc:
            raise InvalidTokenError("bad signature") from exc
        if not isinstance(claims, dict):
            raise InvalidTokenError("malformed claims")
        return self._check_claims(claims, moment)

    def _check_claims(self, claims: dict[str, Any], moment: float) -> tuple[float, Principal]:
        if claims.get("iss") != self._issuer:
            raise InvalidTokenError("wrong issuer")
        aud = claims.get("aud")
        if aud != self._audience and not (isinstance(aud, list) and self._audience in aud):
            raise InvalidTokenError("wrong audience")
        exp = claims.get("exp")
        nbf = claims.get("nbf", 0)
        if not isinstance(exp, int | float) or not isinstance(nbf, int | float):
            raise InvalidTokenError("malformed time claims")
        if exp + self._leeway <= moment:
            raise InvalidTokenError("expired")
        if nbf - self._leeway > moment:
            raise InvalidTokenError("not yet valid")
        sub = claims.get("sub")
        tenants = claims.get("ten", {})
        if not isinstance(sub, str) or not sub.startswith("user:") or not isinstance(tenants, dict):
            raise InvalidTokenError("malformed subject")
        sid = claims.get("sid")
        if sid is not None and not isinstance(sid, str):
            raise InvalidTokenError("malformed session")
        try:
            user_id = uuid.UUID(sub[5:])
            roles = {uuid.UUID(t): Role(r) for t, r in tenants.items()}
            session_id = uuid.UUID(sid) if sid is not None else None
        except ValueError as exc:
            raise InvalidTokenError("malformed subject") from exc
        principal = Principal(
            subject=sub,
            user_id=user_id,
            operator=claims.get("op") is True,
            roles=roles,
            session_id=session_id,
        )
        return float(exp) + self._leeway, principal

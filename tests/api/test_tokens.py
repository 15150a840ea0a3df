"""Access-token attacks: each answers 401 with a problem that says nothing specific."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from api.auth.tokens import TokenService, generate_signing_key
from api.services import Services
from tests.api.conftest import World, client_for


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(services: Services, user_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": services.settings.jwt_issuer,
        "aud": services.settings.jwt_audience,
        "sub": f"user:{user_id}",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "op": False,
        "ten": {},
    }
    claims.update(changes)
    return claims


async def _status(app: FastAPI, token: str) -> tuple[int, dict[str, Any], str]:
    async with client_for(app, token) as client:
        response = await client.get("/v1/me")
    return response.status_code, response.json(), response.headers.get("www-authenticate", "")


async def test_a_well_formed_token_is_accepted(
    app: FastAPI, services: Services, world: World
) -> None:
    token = services.tokens.sign(_claims(services, world.admin.user_id))
    status, _, _ = await _status(app, token)
    assert status == 200


def _alg_none(services: Services, world: World) -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": "test-key-1"}
    return f"{_b64(header)}.{_b64(_claims(services, world.admin.user_id, op=True))}."


def _tampered(services: Services, world: World) -> str:
    token = services.tokens.sign(_claims(services, world.read_only.user_id))
    header, _payload, signature = token.split(".")
    forged = _claims(services, world.read_only.user_id, op=True, ten={str(world.tenant_b): "admin"})
    return f"{header}.{_b64(forged)}.{signature}"


def _hs256_with_public_key(services: Services, world: World) -> str:
    # Algorithm confusion: HMAC keyed with the published RSA modulus.
    header = {"alg": "HS256", "typ": "at+jwt", "kid": "test-key-1"}
    return f"{_b64(header)}.{_b64(_claims(services, world.admin.user_id))}.AAAA"


def _foreign_key(services: Services, world: World, kid: str) -> str:
    other = TokenService(
        [generate_signing_key(kid)],
        issuer=services.settings.jwt_issuer,
        audience=services.settings.jwt_audience,
        ttl_seconds=300,
    )
    return other.sign(_claims(services, world.admin.user_id))


ATTACKS: dict[str, Callable[[Services, World], str]] = {
    "alg-none": _alg_none,
    "tampered-payload": _tampered,
    "alg-confusion-hs256": _hs256_with_public_key,
    "wrong-audience": lambda s, w: s.tokens.sign(_claims(s, w.admin.user_id, aud="someone-else")),
    "audience-list-without-us": lambda s, w: s.tokens.sign(
        _claims(s, w.admin.user_id, aud=["x", "y"])
    ),
    "wrong-issuer": lambda s, w: s.tokens.sign(
        _claims(s, w.admin.user_id, iss="https://evil.example")
    ),
    "expired": lambda s, w: s.tokens.sign(
        _claims(s, w.admin.user_id, iat=int(time.time()) - 4000, exp=int(time.time()) - 3600)
    ),
    "not-yet-valid": lambda s, w: s.tokens.sign(
        _claims(s, w.admin.user_id, nbf=int(time.time()) + 3600)
    ),
    "unknown-kid": lambda s, w: _foreign_key(s, w, "not-published"),
    "same-kid-other-key": lambda s, w: _foreign_key(s, w, "test-key-1"),
    "missing-exp": lambda s, w: s.tokens.sign(
        {k: v for k, v in _claims(s, w.admin.user_id).items() if k != "exp"}
    ),
    "garbage": lambda s, w: "not.a.jwt",
    "empty-segments": lambda s, w: "..",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_token_attack_is_rejected(
    app: FastAPI, services: Services, world: World, attack: str
) -> None:
    token = ATTACKS[attack](services, world)
    status, body, challenge = await _status(app, token)
    assert status == 401, body
    assert body["type"].endswith("/unauthorized")
    assert challenge.startswith("Bearer")
    assert "kid" not in body.get("detail", "")
    assert "aud" not in body.get("detail", "")


async def test_missing_or_malformed_authorization_header(app: FastAPI) -> None:
    for value in (None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer    "):
        headers = {"Authorization": value} if value is not None else {}
        async with client_for(app, headers=headers) as client:
            response = await client.get("/v1/me")
        assert response.status_code == 401, value


def test_expiry_is_enforced_even_for_cached_tokens(services: Services, world: World) -> None:
    tokens = TokenService(
        [generate_signing_key("cache-test")],
        issuer="i",
        audience="a",
        ttl_seconds=30,
        leeway_seconds=0,
    )
    token = tokens.issue(world.admin.user_id, {})
    now = time.time()
    assert tokens.verify(token, now=now).user_id == world.admin.user_id  # cached now
    with pytest.raises(Exception, match="expired"):
        tokens.verify(token, now=now + 31)

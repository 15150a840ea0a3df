"""``/.well-known/jwks.json``: the public keys that verify Treeflow access tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from api.rbac import Permission, requires

router = APIRouter(tags=["auth"])

JWKS_EXAMPLE = {
    "keys": [
        {"kty": "RSA", "kid": "2026-11", "use": "sig", "alg": "RS256", "n": "0vx7...", "e": "AQAB"}
    ]
}


@router.get(
    "/.well-known/jwks.json",
    dependencies=[requires(Permission.PUBLIC)],
    responses={200: {"content": {"application/json": {"example": JWKS_EXAMPLE}}}},
)
async def jwks(services: ServicesDep) -> Any:
    """Current and previous signing keys; select by the token's ``kid``."""
    return JSONResponse(services.tokens.jwks(), headers={"Cache-Control": "public, max-age=300"})

"""Basic wiring: health, JWKS, /v1/me for each kind of caller."""

from __future__ import annotations

from joserfc import jws
from joserfc.jwk import KeySet

from tests.api.conftest import World


async def test_health_is_public(world: World) -> None:
    response = await world.anonymous.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_jwks_publishes_the_key_that_verifies_access_tokens(world: World) -> None:
    response = await world.anonymous.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    keys = KeySet.import_key_set(response.json())
    token = world.admin.token
    verified = jws.deserialize_compact(token, keys, algorithms=["RS256"])
    assert b'"sub":"user:' in (verified.payload or b"")
    assert all("d" not in k for k in response.json()["keys"]), "private parts leaked"


async def test_me_reports_roles_from_the_token(world: World) -> None:
    response = await world.admin.client.get("/v1/me")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "user"
    assert body["memberships"] == [{"tenant_id": str(world.tenant_a), "role": "admin"}]
    assert body["operator"] is False

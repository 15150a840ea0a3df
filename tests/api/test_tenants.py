"""Tenants, settings, domains, members and invitations; tenant isolation for each."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from api.db.models import Role
from api.services import Services
from tests.api.conftest import World, client_for, create_actor, create_tenant


def _slug() -> str:
    return f"acme-{uuid.uuid4().hex[:8]}"


async def test_operator_creates_a_tenant_with_admin_invitations(world: World) -> None:
    slug = _slug()
    response = await world.operator.client.post(
        "/v1/tenants",
        json={
            "slug": slug,
            "name": "Acme",
            "admin_emails": ["Boss@Acme.example"],
            "email_domains": [{"domain": f"{slug}.example", "role": "read-only"}],
            "settings": {"allowed_tools": ["query"], "quotas": {"runs_per_day": 5}},
        },
    )
    assert response.status_code == 201, response.text
    tenant_id = response.json()["id"]
    invitations = await world.operator.client.get(f"/v1/tenants/{tenant_id}/invitations")
    assert invitations.status_code == 200
    assert [(i["email"], i["role"]) for i in invitations.json()["invitations"]] == [
        ("boss@acme.example", "admin")
    ]
    settings = await world.operator.client.get(f"/v1/tenants/{tenant_id}/settings")
    assert settings.json()["allowed_tools"] == ["query"]
    assert settings.json()["quotas"] == {"max_concurrent_runs": 10, "runs_per_day": 5}
    duplicate = await world.operator.client.post(
        "/v1/tenants", json={"slug": slug, "name": "Again"}
    )
    assert duplicate.status_code == 409
    assert (await world.operator.client.get(f"/v1/tenants/{tenant_id}/secrets")).status_code == 404


async def test_only_operators_create_tenants(world: World) -> None:
    for actor in (world.admin, world.user):
        response = await actor.client.post("/v1/tenants", json={"slug": _slug(), "name": "X"})
        assert response.status_code == 403


async def test_listing_shows_only_my_tenants(world: World) -> None:
    mine = (await world.admin.client.get("/v1/tenants")).json()["tenants"]
    assert [t["id"] for t in mine] == [str(world.tenant_a)]
    everything = (await world.operator.client.get("/v1/tenants?limit=200")).json()["tenants"]
    assert {str(world.tenant_a), str(world.tenant_b)} <= {t["id"] for t in everything}


async def test_settings_round_trip_and_validation(world: World) -> None:
    path = f"/v1/tenants/{world.tenant_a}/settings"
    body = {
        "allowed_tools": ["query", "summarize"],
        "quotas": {"max_concurrent_runs": 3, "runs_per_day": 100},
        "rate_limits": {"requests_per_minute": 100000},
        "default_models": {"base": "gpt-4o-mini", "complex": "gpt-4o"},
    }
    put = await world.admin.client.put(path, json=body)
    assert put.status_code == 200, put.text
    assert (await world.read_only.client.get(path)).json() == body
    bad = await world.admin.client.put(path, json={"quotas": {"runs_per_day": -1}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.quotas.runs_per_day"
    assert (await world.user.client.put(path, json=body)).status_code == 403
    assert (await world.admin.client.put(path, json={})).status_code == 200


async def test_tenant_rate_limit_from_settings(app: FastAPI, services: Services) -> None:
    tenant = await create_tenant(services, "limited")
    admin = await create_actor(app, "limited-admin", {tenant: Role.ADMIN})
    path = f"/v1/tenants/{tenant}/settings"
    assert (
        await admin.client.put(path, json={"rate_limits": {"requests_per_minute": 3}})
    ).status_code == 200
    statuses = [(await admin.client.get(f"/v1/tenants/{tenant}")).status_code for _ in range(5)]
    assert 429 in statuses
    await admin.client.aclose()


async def test_domains_are_claimed_by_operators_only(world: World, services: Services) -> None:
    domain = f"{uuid.uuid4().hex[:8]}.example"
    path = f"/v1/tenants/{world.tenant_a}/domains"
    body = {"rules": [{"domain": domain, "role": "user"}]}
    assert (await world.admin.client.put(path, json=body)).status_code == 403
    assert (await world.operator.client.put(path, json=body)).status_code == 200
    assert (await world.read_only.client.get(path)).json() == body
    clash = await world.operator.client.put(f"/v1/tenants/{world.tenant_b}/domains", json=body)
    assert clash.status_code == 409
    missing = await world.operator.client.put(f"/v1/tenants/{uuid.uuid4()}/domains", json=body)
    assert missing.status_code == 404


async def test_member_management_and_last_admin_rule(app: FastAPI, services: Services) -> None:
    tenant = await create_tenant(services, "members")
    admin = await create_actor(app, "m-admin", {tenant: Role.ADMIN})
    member = await create_actor(app, "m-user", {tenant: Role.USER})
    base = f"/v1/tenants/{tenant}/members"
    listing = (await member.client.get(base)).json()["members"]
    assert {m["role"] for m in listing} == {"admin", "user"}
    assert (
        await admin.client.put(f"{base}/{member.user_id}", json={"role": "admin"})
    ).status_code == 200
    assert (
        await admin.client.put(f"{base}/{admin.user_id}", json={"role": "user"})
    ).status_code == 200
    # Roles travel in access tokens: the promotion shows at the member's next token.
    assert (await member.client.delete(f"{base}/{admin.user_id}")).status_code == 403
    promoted = client_for(app, services.tokens.issue(member.user_id, {tenant: Role.ADMIN}))
    last = await promoted.delete(f"{base}/{admin.user_id}")
    assert last.status_code == 204
    refused = await promoted.delete(f"{base}/{member.user_id}")
    assert refused.status_code == 409, "the last admin stays"
    assert (await promoted.delete(f"{base}/{uuid.uuid4()}")).status_code == 404
    for client in (admin.client, member.client, promoted):
        await client.aclose()


async def test_invitation_lifecycle(world: World) -> None:
    base = f"/v1/tenants/{world.tenant_a}/invitations"
    created = await world.admin.client.post(
        base, json={"provider": "corp", "subject": "emp-42", "role": "read-only"}
    )
    assert created.status_code == 201
    both = await world.admin.client.post(
        base, json={"email": "a@b.example", "provider": "corp", "subject": "x"}
    )
    assert both.status_code == 422
    neither = await world.admin.client.post(base, json={"role": "user"})
    assert neither.status_code == 422
    invitation_id = created.json()["id"]
    assert (
        await world.outsider.client.delete(
            f"/v1/tenants/{world.tenant_b}/invitations/{invitation_id}"
        )
    ).status_code == 404
    assert (await world.admin.client.delete(f"{base}/{invitation_id}")).status_code == 204


async def test_tenant_isolation_for_every_foundation_resource(world: World) -> None:
    """Tenant A's admin reaches none of tenant B's objects, even knowing their ids."""
    b = world.tenant_b
    b_key = (
        await world.outsider.client.post(f"/v1/tenants/{b}/api-keys", json={"name": "b"})
    ).json()
    b_invite = (
        await world.outsider.client.post(
            f"/v1/tenants/{b}/invitations", json={"email": "x@b.example"}
        )
    ).json()
    probes = [
        ("GET", f"/v1/tenants/{b}"),
        ("PATCH", f"/v1/tenants/{b}"),
        ("GET", f"/v1/tenants/{b}/settings"),
        ("PUT", f"/v1/tenants/{b}/settings"),
        ("GET", f"/v1/tenants/{b}/members"),
        ("PUT", f"/v1/tenants/{b}/members/{world.outsider.user_id}"),
        ("DELETE", f"/v1/tenants/{b}/members/{world.outsider.user_id}"),
        ("GET", f"/v1/tenants/{b}/invitations"),
        ("DELETE", f"/v1/tenants/{b}/invitations/{b_invite['id']}"),
        ("GET", f"/v1/tenants/{b}/api-keys"),
        ("POST", f"/v1/tenants/{b}/api-keys/{b_key['id']}/rotate"),
        ("DELETE", f"/v1/tenants/{b}/api-keys/{b_key['id']}"),
        ("DELETE", f"/v1/tenants/{world.tenant_a}/api-keys/{b_key['id']}"),
        ("DELETE", f"/v1/tenants/{world.tenant_a}/invitations/{b_invite['id']}"),
        ("DELETE", f"/v1/tenants/{world.tenant_a}/members/{world.outsider.user_id}"),
        ("GET", f"/v1/tenants/{b}/audit"),
        ("GET", f"/v1/tenants/{b}/domains"),
    ]
    bodies = {"PATCH": {"name": "pwned"}, "PUT": {"role": "read-only"}, "POST": {}}
    for method, path in probes:
        response = await world.admin.client.request(method, path, json=bodies.get(method))
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.json()["type"].endswith("/not-found")
    still = await world.outsider.client.get(f"/v1/tenants/{b}/api-keys")
    assert any(k["id"] == b_key["id"] and k["revoked_at"] is None for k in still.json()["api_keys"])
    assert (await world.outsider.client.get(f"/v1/tenants/{b}")).json()["name"] != "pwned"


async def test_not_found_does_not_reveal_existence(world: World) -> None:
    existing = await world.admin.client.get(f"/v1/tenants/{world.tenant_b}")
    missing = await world.admin.client.get(f"/v1/tenants/{uuid.uuid4()}")

    def strip(body: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in body.items() if k not in ("instance", "request_id")}

    assert existing.status_code == missing.status_code == 404
    assert strip(existing.json()) == strip(missing.json())

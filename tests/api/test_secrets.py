"""Tenant secrets: encrypted at rest, write-only, never in responses or logs, resolvable
by reference from activities, and re-encrypted by key rotation."""

from __future__ import annotations

import logging
import uuid

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from api.admin import rotate_secret_keys
from api.services import Services
from foundation.secrets import (
    DatabaseSecretStore,
    Keyring,
    KeyringError,
    SecretNotFoundError,
    SecretRef,
    tenant_secrets,
)
from tests.api.conftest import World, settings_for


def _marker() -> str:
    return f"sk-live-{uuid.uuid4().hex}"


async def test_secret_is_write_only_and_never_leaks(
    app: FastAPI, services: Services, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    value = _marker()
    base = f"/v1/tenants/{world.tenant_a}/secrets"
    texts: list[str] = []

    put = await world.admin.client.put(f"{base}/openai-api-key", json={"value": value})
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 1
    assert put.json()["reference"] == f"secret://{world.tenant_a}/openai-api-key"
    texts.append(put.text)
    again = await world.admin.client.put(f"{base}/openai-api-key", json={"value": value + "2"})
    assert again.json()["version"] == 2
    texts.append(again.text)
    listing = await world.user.client.get(base)
    assert [s["name"] for s in listing.json()["secrets"]].count("openai-api-key") == 1
    texts.append(listing.text)
    # Invalid writes must not echo the value either.
    for bad in ({"value": value, "extra": 1}, {"value": value * 2000}, {"valu": value}):
        response = await world.admin.client.put(f"{base}/openai-api-key", json=bad)
        assert response.status_code == 422
        texts.append(response.text)
    texts.append((await world.read_only.client.put(f"{base}/x", json={"value": value})).text)
    audit = await world.admin.client.get(f"/v1/tenants/{world.tenant_a}/audit?limit=200")
    texts.append(audit.text)

    for text in texts:
        assert value not in text
    logged = "\n".join(r.getMessage() + str(r.args) for r in caplog.records)
    assert value not in logged
    assert value not in caplog.text

    async with services.engine.connect() as conn:
        blob = (
            await conn.execute(
                sa.select(tenant_secrets.c.ciphertext).where(
                    tenant_secrets.c.tenant_id == world.tenant_a,
                    tenant_secrets.c.name == "openai-api-key",
                )
            )
        ).scalar_one()
    assert value.encode() not in blob

    resolved = await services.secrets.get(SecretRef(world.tenant_a, "openai-api-key"))
    assert resolved == value + "2"


async def test_secrets_are_tenant_scoped(services: Services, world: World) -> None:
    a_value, b_value = _marker(), _marker()
    b_put = await world.outsider.client.put(
        f"/v1/tenants/{world.tenant_b}/secrets/shared-name", json={"value": b_value}
    )
    assert b_put.status_code == 200
    a_put = await world.admin.client.put(
        f"/v1/tenants/{world.tenant_a}/secrets/shared-name", json={"value": a_value}
    )
    assert a_put.json()["version"] == 1, "tenant A's secret is its own, not B's next version"
    assert await services.secrets.get(SecretRef(world.tenant_b, "shared-name")) == b_value
    for method in ("GET", "PUT", "DELETE"):
        path = f"/v1/tenants/{world.tenant_b}/secrets" + ("" if method == "GET" else "/shared-name")
        response = await world.admin.client.request(method, path, json={"value": "x"})
        assert response.status_code == 404, (method, response.text)
    assert await services.secrets.get(SecretRef(world.tenant_b, "shared-name")) == b_value


async def test_ciphertext_is_bound_to_its_tenant(services: Services, world: World) -> None:
    store = services.secrets
    assert isinstance(store, DatabaseSecretStore)
    await store.put(world.tenant_b, "bound", _marker())
    victim = uuid.uuid4()
    async with services.engine.begin() as conn:
        row = (
            await conn.execute(
                sa.select(tenant_secrets).where(
                    tenant_secrets.c.tenant_id == world.tenant_b, tenant_secrets.c.name == "bound"
                )
            )
        ).one()
        await conn.execute(tenant_secrets.insert().values({**row._mapping, "tenant_id": victim}))
    try:
        with pytest.raises(KeyringError):
            await store.get(SecretRef(victim, "bound"))
    finally:
        await store.delete(victim, "bound")


async def test_delete_and_missing(services: Services, world: World) -> None:
    base = f"/v1/tenants/{world.tenant_a}/secrets"
    await world.admin.client.put(f"{base}/temp", json={"value": _marker()})
    assert (await world.admin.client.delete(f"{base}/temp")).status_code == 204
    assert (await world.admin.client.delete(f"{base}/temp")).status_code == 404
    with pytest.raises(SecretNotFoundError):
        await services.secrets.get(SecretRef(world.tenant_a, "temp"))


async def test_key_rotation_reencrypts_under_the_new_key(
    db_url: str, services: Services, world: World
) -> None:
    value = _marker()
    old_settings = services.settings
    await services.secrets.put(world.tenant_a, "rotating", value)
    new_key = Keyring.generate_key()
    old_keys = {k: v.get_secret_value() for k, v in old_settings.secret_keys.items()}
    rotated = settings_for(
        db_url, secret_keys={**old_keys, "k2": new_key}, secret_active_key_id="k2"
    )
    changed = await rotate_secret_keys(rotated)
    assert changed >= 1
    only_new = DatabaseSecretStore(services.engine, Keyring.from_encoded({"k2": new_key}, "k2"))
    assert await only_new.get(SecretRef(world.tenant_a, "rotating")) == value
    metas = {m.name: m for m in await only_new.list(world.tenant_a)}
    assert metas["rotating"].key_id == "k2"
    assert await rotate_secret_keys(rotated) == 0
    # Put the session store's key back in charge for the other tests.
    back = settings_for(db_url, secret_keys={**old_keys, "k2": new_key}, secret_active_key_id="k1")
    await rotate_secret_keys(back)


def test_keyring_rejects_bad_material() -> None:
    with pytest.raises(KeyringError):
        Keyring.from_encoded({"a": "c2hvcnQ"}, "a")
    with pytest.raises(KeyringError):
        Keyring.from_encoded({"a": Keyring.generate_key()}, "b")
    ring = Keyring.from_encoded({"a": Keyring.generate_key()}, "a")
    assert "a" in repr(ring)
    key_id, blob = ring.encrypt(b"x", b"ctx")
    with pytest.raises(KeyringError):
        ring.decrypt(key_id, blob, b"other-ctx")

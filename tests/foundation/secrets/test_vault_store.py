"""The Vault backend honours the same interface (against an in-memory stand-in for hvac)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from foundation.secrets import SecretNotFoundError, SecretRef, VaultSecretStore


class InvalidPath(Exception):
    pass


class _KV2:
    def __init__(self) -> None:
        self.data: dict[str, list[str]] = {}

    def create_or_update_secret(self, path: str, secret: dict[str, str], mount_point: str) -> Any:
        self.data.setdefault(f"{mount_point}/{path}", []).append(secret["value"])
        version = len(self.data[f"{mount_point}/{path}"])
        return {"data": {"version": version, "created_time": "2026-11-01T10:00:00.123456789Z"}}

    def read_secret_version(
        self, path: str, mount_point: str, raise_on_deleted_version: bool
    ) -> Any:
        versions = self.data.get(f"{mount_point}/{path}")
        if not versions:
            raise InvalidPath(path)
        return {"data": {"data": {"value": versions[-1]}}}

    def list_secrets(self, path: str, mount_point: str) -> Any:
        prefix = f"{mount_point}/{path}/"
        keys = [k[len(prefix) :] for k in self.data if k.startswith(prefix)]
        if not keys:
            raise InvalidPath(path)
        return {"data": {"keys": keys}}

    def read_secret_metadata(self, path: str, mount_point: str) -> Any:
        versions = self.data.get(f"{mount_point}/{path}")
        if not versions:
            raise InvalidPath(path)
        stamp = "2026-11-01T10:00:00Z"
        return {
            "data": {"current_version": len(versions), "created_time": stamp, "updated_time": stamp}
        }

    def delete_metadata_and_all_versions(self, path: str, mount_point: str) -> None:
        self.data.pop(f"{mount_point}/{path}")


class _Client:
    def __init__(self) -> None:
        kv = type("KV", (), {"v2": _KV2()})()
        self.secrets = type("Secrets", (), {"kv": kv})()


async def test_vault_store_round_trip() -> None:
    store = VaultSecretStore(_Client(), mount_point="secret")
    tenant = uuid.uuid4()
    assert await store.list(tenant) == []
    meta = await store.put(tenant, "llm-key", "v1")
    assert meta.version == 1
    assert meta.key_id == "vault"
    assert meta.created_at.year == 2026
    assert (await store.put(tenant, "llm-key", "v2")).version == 2
    assert await store.get(SecretRef(tenant, "llm-key")) == "v2"
    assert [m.name for m in await store.list(tenant)] == ["llm-key"]
    assert await store.delete(tenant, "llm-key") is True
    assert await store.delete(tenant, "llm-key") is False
    with pytest.raises(SecretNotFoundError):
        await store.get(SecretRef(tenant, "llm-key"))


def test_secret_refs_parse_and_validate() -> None:
    tenant = uuid.uuid4()
    ref = SecretRef(tenant, "openai-api-key")
    assert SecretRef.parse(str(ref)) == ref
    for bad in ("secret://nope/x", "https://x/y", f"secret://{tenant}/a/b"):
        with pytest.raises(ValueError, match=r"\w"):
            SecretRef.parse(bad)
    with pytest.raises(ValueError, match="secret names"):
        SecretRef(tenant, "../etc/passwd")

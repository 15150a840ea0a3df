"""HashiCorp Vault (KV version 2) behind the same secret-store interface.

``hvac`` is optional (``pip install treeflow[vault]``) and synchronous, so calls run in
a worker thread. Vault keeps its own versions; the ``key_id`` reported is ``"vault"``.
A secret's tool policy lives in its Vault ``custom_metadata`` (``treeflow_allowed_tools``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from foundation.secrets.store import (
    SecretMeta,
    SecretNotFoundError,
    SecretPolicy,
    SecretRef,
    validate_secret_name,
)

POLICY_METADATA_KEY = "treeflow_allowed_tools"


def _policy(metadata: Any) -> SecretPolicy:
    custom = (metadata or {}).get("custom_metadata") or {}
    stored = custom.get(POLICY_METADATA_KEY)
    return SecretPolicy(None if stored is None else tuple(json.loads(stored)))


def _parse_time(text: str | None) -> datetime:
    """Parse Vault's RFC 3339 times, which carry nanoseconds (``...06.945319214Z``)."""
    if not text:
        return datetime.now(UTC)
    base, _, frac = text.rstrip("Z").partition(".")
    parsed = datetime.fromisoformat(f"{base}.{(frac + '000000')[:6]}" if frac else base)
    return parsed.replace(tzinfo=UTC)


class VaultSecretStore:
    """Secrets at ``<mount>/<prefix>/<tenant id>/<name>`` in a Vault KV v2 engine."""

    def __init__(self, client: Any, mount_point: str = "secret", prefix: str = "treeflow") -> None:
        self._client = client
        self._mount = mount_point
        self._prefix = prefix.strip("/")

    def __repr__(self) -> str:
        return f"VaultSecretStore(mount_point={self._mount!r}, prefix={self._prefix!r})"

    @classmethod
    def connect(cls, url: str, token: str, mount_point: str = "secret") -> VaultSecretStore:
        """Create a store from a Vault address and token (imports ``hvac`` lazily)."""
        import hvac  # optional dependency, imported on use

        return cls(hvac.Client(url=url, token=token), mount_point=mount_point)

    def _path(self, tenant_id: uuid.UUID, name: str = "") -> str:
        return f"{self._prefix}/{tenant_id}/{name}" if name else f"{self._prefix}/{tenant_id}"

    @property
    def _kv(self) -> Any:
        return self._client.secrets.kv.v2

    async def put(self, tenant_id: uuid.UUID, name: str, value: str) -> SecretMeta:
        validate_secret_name(name)
        result = await asyncio.to_thread(
            self._kv.create_or_update_secret,
            path=self._path(tenant_id, name),
            secret={"value": value},
            mount_point=self._mount,
        )
        data = result.get("data", {})
        created = _parse_time(data.get("created_time"))
        meta = await asyncio.to_thread(
            self._kv.read_secret_metadata,
            path=self._path(tenant_id, name),
            mount_point=self._mount,
        )
        policy = _policy(meta.get("data"))
        version = int(data.get("version", 1))
        return SecretMeta(name, version, "vault", created, created, policy.allowed_tools)

    async def get(self, ref: SecretRef) -> str:
        try:
            result = await asyncio.to_thread(
                self._kv.read_secret_version,
                path=self._path(ref.tenant_id, ref.name),
                mount_point=self._mount,
                raise_on_deleted_version=True,
            )
        except Exception as exc:  # hvac raises InvalidPath for a missing secret
            if type(exc).__name__ == "InvalidPath":
                raise SecretNotFoundError(str(ref)) from None
            raise
        return str(result["data"]["data"]["value"])

    async def get_with_policy(self, ref: SecretRef) -> tuple[str, SecretPolicy]:
        value = await self.get(ref)
        meta = await asyncio.to_thread(
            self._kv.read_secret_metadata,
            path=self._path(ref.tenant_id, ref.name),
            mount_point=self._mount,
        )
        return value, _policy(meta.get("data"))

    async def set_policy(self, tenant_id: uuid.UUID, name: str, policy: SecretPolicy) -> SecretMeta:
        path = self._path(tenant_id, name)
        try:
            meta = await asyncio.to_thread(
                self._kv.read_secret_metadata, path=path, mount_point=self._mount
            )
        except Exception as exc:
            if type(exc).__name__ == "InvalidPath":
                raise SecretNotFoundError(f"secret://{tenant_id}/{name}") from None
            raise
        custom = dict(meta["data"].get("custom_metadata") or {})
        custom.pop(POLICY_METADATA_KEY, None)
        if policy.allowed_tools is not None:
            custom[POLICY_METADATA_KEY] = json.dumps(list(policy.allowed_tools))
        await asyncio.to_thread(
            self._kv.update_metadata, path=path, custom_metadata=custom, mount_point=self._mount
        )
        data = meta["data"]
        return SecretMeta(
            name,
            int(data["current_version"]),
            "vault",
            _parse_time(data.get("created_time")),
            _parse_time(data.get("updated_time")),
            policy.allowed_tools,
        )

    async def list(self, tenant_id: uuid.UUID) -> list[SecretMeta]:
        try:
            listing = await asyncio.to_thread(
                self._kv.list_secrets, path=self._path(tenant_id), mount_point=self._mount
            )
        except Exception as exc:
            if type(exc).__name__ == "InvalidPath":
                return []
            raise
        metas: list[SecretMeta] = []
        for name in sorted(listing["data"]["keys"]):
            meta = await asyncio.to_thread(
                self._kv.read_secret_metadata,
                path=self._path(tenant_id, name),
                mount_point=self._mount,
            )
            data = meta["data"]
            metas.append(
                SecretMeta(
                    name,
                    int(data["current_version"]),
                    "vault",
                    _parse_time(data.get("created_time")),
                    _parse_time(data.get("updated_time")),
                    _policy(data).allowed_tools,
                )
            )
        return metas

    async def delete(self, tenant_id: uuid.UUID, name: str) -> bool:
        try:
            await asyncio.to_thread(
                self._kv.read_secret_metadata,
                path=self._path(tenant_id, name),
                mount_point=self._mount,
            )
        except Exception as exc:
            if type(exc).__name__ == "InvalidPath":
                return False
            raise
        await asyncio.to_thread(
            self._kv.delete_metadata_and_all_versions,
            path=self._path(tenant_id, name),
            mount_point=self._mount,
        )
        return True

"""How tools fetch tenant secrets at run time: a `SecretResolver` over a `SecretStore`.

Workers build it from the same `TREEFLOW_*` settings the API uses, so a secret written
through the API is readable by tools, by reference, and never travels in a workflow.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from activities.errors import NonRetryableToolError, ToolNotAllowed, ToolUnavailable
from activities.sdk import SecretResolver
from activities.secrets.db import DatabaseSecretStore
from activities.secrets.keyring import DEV_ONLY_SECRET_KEY, Keyring
from activities.secrets.payload_codec import TenantPayloadCodec, payload_encryption_enabled
from activities.secrets.store import SecretNotFoundError, SecretRef, SecretStore
from activities.secrets.vault import VaultSecretStore


class SecretsSettings(BaseSettings):
    """The secret backend as workers see it (the API's variables, same names)."""

    model_config = SettingsConfigDict(env_prefix="TREEFLOW_", extra="ignore")

    dev_mode: bool = False
    database_url: str | None = Field(
        default=None, description="Where the API keeps secrets; unset: tools get no secrets."
    )
    secret_keys: dict[str, SecretStr] = Field(default_factory=dict)
    secret_active_key_id: str | None = None
    secrets_backend: Literal["database", "vault"] = "database"
    vault_url: str | None = None
    vault_token: SecretStr | None = None
    vault_mount: str = "secret"
    payload_encryption: bool | None = Field(
        default=None, description="Encrypt Temporal payloads (default: on unless dev mode)."
    )

    def payload_codec(self) -> TenantPayloadCodec | None:
        """The Temporal payload codec when payload encryption is on (same keys as the API)."""
        if not payload_encryption_enabled(self.payload_encryption, dev_mode=self.dev_mode):
            return None
        return TenantPayloadCodec(self.keyring())

    def keyring(self) -> Keyring:
        if not self.secret_keys:
            if not self.dev_mode:
                raise ValueError("TREEFLOW_SECRET_KEYS is required outside dev mode")
            return Keyring.from_encoded({"dev": DEV_ONLY_SECRET_KEY}, "dev")
        keys = {k: v.get_secret_value() for k, v in self.secret_keys.items()}
        return Keyring.from_encoded(keys, self.secret_active_key_id or next(iter(keys)))

    def build_store(self) -> tuple[SecretStore, AsyncEngine | None] | None:
        """The configured store (and the engine to dispose of), or None if not configured."""
        if self.secrets_backend == "vault":
            if not self.vault_url or self.vault_token is None:
                raise ValueError("the vault backend needs TREEFLOW_VAULT_URL and _VAULT_TOKEN")
            store = VaultSecretStore.connect(
                self.vault_url, self.vault_token.get_secret_value(), self.vault_mount
            )
            return store, None
        if self.database_url is None:
            return None
        engine = create_async_engine(self.database_url, pool_size=2, pool_pre_ping=True)
        return DatabaseSecretStore(engine, self.keyring()), engine


class StoreSecretResolver:
    """Reads `secret://<tenant>/<name>` from a store when a tool asks, honouring the
    secret's tool policy (`SecretPolicy`): `for_tool(name)` is what the tool host hands
    a call of tool `name`; calling the resolver itself resolves as "no tool"."""

    def __init__(self, store: SecretStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return f"StoreSecretResolver({self._store!r})"

    async def __call__(self, tenant_id: str, name: str) -> str:
        return await self.resolve(tenant_id, name, tool=None)

    def for_tool(self, tool: str) -> SecretResolver:
        """The resolver a call of tool `tool` (name without version) sees."""

        async def resolve(tenant_id: str, name: str) -> str:
            return await self.resolve(tenant_id, name, tool=tool)

        return resolve

    async def resolve(self, tenant_id: str, name: str, *, tool: str | None) -> str:
        try:
            tenant = uuid.UUID(tenant_id)
        except ValueError:
            raise NonRetryableToolError(
                f"secret '{name}': runs of tenant '{tenant_id}' have no secret store",
                details={"secret": name},
            ) from None
        try:
            value, policy = await self._store.get_with_policy(SecretRef(tenant, name))
        except SecretNotFoundError:
            raise NonRetryableToolError(
                f"secret '{name}' is not set for this tenant", details={"secret": name}
            ) from None
        except (OSError, ConnectionError) as exc:
            raise ToolUnavailable(f"secret store unreachable: {type(exc).__name__}") from exc
        if not policy.allows(tool):
            raise ToolNotAllowed(
                f"secret '{name}' may not be used by tool '{tool}': a tenant admin sets "
                f"which tools may use it (PUT /v1/tenants/{tenant}/secrets/{name}/policy)",
                details={"secret": name, "tool": tool},
            )
        return value


def store_resolver(store: SecretStore) -> StoreSecretResolver:
    """A resolver that reads `secret://<tenant>/<name>` from `store` when a tool asks."""
    return StoreSecretResolver(store)

"""The configured secret store, built one way for the API, the workers and the CLI."""

from __future__ import annotations

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from foundation.secrets.db import DatabaseSecretStore
from foundation.secrets.keyring import DEV_ONLY_SECRET_KEY, Keyring
from foundation.secrets.payload_codec import TenantPayloadCodec, payload_encryption_enabled
from foundation.secrets.store import SecretStore
from foundation.secrets.vault import VaultSecretStore
from foundation.settings import PlatformSettings


def build_keyring(settings: PlatformSettings) -> Keyring:
    """The AES-GCM key ring for tenant secrets (the dev-only key in dev mode when none is set)."""
    if not settings.secret_keys:
        if not settings.dev_mode:
            raise ValueError("TREEFLOW_SECRET_KEYS is required outside dev mode")
        return Keyring.from_encoded({"dev": DEV_ONLY_SECRET_KEY}, "dev")
    keys = {k: v.get_secret_value() for k, v in settings.secret_keys.items()}
    return Keyring.from_encoded(keys, settings.secret_active_key_id or next(iter(keys)))


def build_secret_store(settings: PlatformSettings, engine: AsyncEngine | None) -> SecretStore:
    """The configured backend; the database one keeps its ciphertexts in `engine`'s database."""
    if settings.secrets_backend == "vault":
        if not settings.vault_url or settings.vault_token is None:
            raise ValueError("the vault backend needs TREEFLOW_VAULT_URL and TREEFLOW_VAULT_TOKEN")
        return VaultSecretStore.connect(
            settings.vault_url, settings.vault_token.get_secret_value(), settings.vault_mount
        )
    if engine is None:
        raise ValueError("the database secret backend needs TREEFLOW_DATABASE_URL")
    return DatabaseSecretStore(engine, build_keyring(settings))


class SecretsSettings(PlatformSettings):
    """The secret backend as workers see it: the API's variables, the database optional."""

    database_url: str | None = Field(
        default=None, description="Where the API keeps secrets; unset: tools get no secrets."
    )

    def payload_codec(self) -> TenantPayloadCodec | None:
        """The Temporal payload codec when payload encryption is on (same keys as the API)."""
        if not payload_encryption_enabled(self.payload_encryption, dev_mode=self.dev_mode):
            return None
        return TenantPayloadCodec(build_keyring(self))

    def build_store(self) -> tuple[SecretStore, AsyncEngine | None] | None:
        """The configured store (and the engine to dispose of), or None if not configured."""
        if self.secrets_backend == "vault":
            return build_secret_store(self, None), None
        if self.database_url is None:
            return None
        engine = create_async_engine(self.database_url, pool_size=2, pool_pre_ping=True)
        return build_secret_store(self, engine), engine

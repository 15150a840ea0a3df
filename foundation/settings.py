"""The `TREEFLOW_*` settings the API and the workers read alike: dev mode and the secret backend."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    """Declared once; `api.settings.Settings` and `foundation.secrets.settings.SecretsSettings`
    extend it, so a secret the API writes is one the workers can read."""

    model_config = SettingsConfigDict(env_prefix="TREEFLOW_", extra="ignore")

    dev_mode: bool = Field(
        default=False,
        description="Explicit development mode: plain HTTP allowed, ephemeral signing keys.",
    )

    # Secrets at rest
    secret_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="key id -> base64 32-byte AES key"
    )
    secret_active_key_id: str | None = None
    secrets_backend: Literal["database", "vault"] = "database"
    vault_url: str | None = None
    vault_token: SecretStr | None = None
    vault_mount: str = "secret"
    payload_encryption: bool | None = Field(
        default=None,
        description="Encrypt Temporal payloads per tenant (default: on unless dev mode); "
        "the API, the workers and the CLI must use the same setting and keys.",
    )

"""Tenant secrets: one interface, fetched by reference, never carried in workflow inputs.

Activities receive a :class:`SecretRef` (tenant + name) and resolve it through a
:class:`SecretStore` at the moment they need the value. The API writes secrets through
the same interface. Two implementations ship: :class:`DatabaseSecretStore` (AES-GCM
under a versioned key ring, the default) and :class:`VaultSecretStore` (HashiCorp
Vault KV v2 through ``hvac``, optional).
"""

from foundation.secrets.db import DatabaseSecretStore, tenant_secrets
from foundation.secrets.keyring import Keyring, KeyringError
from foundation.secrets.store import (
    SecretMeta,
    SecretNotFoundError,
    SecretPolicy,
    SecretRef,
    SecretStore,
    validate_secret_name,
)
from foundation.secrets.vault import VaultSecretStore

__all__ = [
    "DatabaseSecretStore",
    "Keyring",
    "KeyringError",
    "SecretMeta",
    "SecretNotFoundError",
    "SecretPolicy",
    "SecretRef",
    "SecretStore",
    "VaultSecretStore",
    "tenant_secrets",
    "validate_secret_name",
]

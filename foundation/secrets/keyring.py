"""AES-256-GCM key ring with versioned keys.

Every ciphertext is stored with the id of the key that sealed it, so keys can rotate:
new writes use the active key, old rows stay readable until they are re-encrypted.
Ciphertexts are bound to their context (tenant, name, version) through AES-GCM's
associated data, so a row copied to another tenant or name fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32


# Dev-only constant: a well-known, *public* AES key used only in dev mode when no key is
# configured, so an embedded dev stack (API and worker alike) keeps its secrets across
# restarts. It protects nothing; production refuses to start without real keys.
DEV_ONLY_SECRET_KEY = "ZGV2LW9ubHktaW5zZWN1cmUtdHJlZWZsb3cta2V5ISE"  # noqa: S105


class KeyringError(Exception):
    """A key is missing, malformed, or a ciphertext failed authentication."""


@dataclass(frozen=True)
class Keyring:
    """Versioned AES-GCM keys; ``active`` names the key new ciphertexts use."""

    keys: Mapping[str, bytes]
    active: str
    _aead: dict[str, AESGCM] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise KeyringError(f"active key id {self.active!r} is not in the key ring")
        aead: dict[str, AESGCM] = {}
        for key_id, key in self.keys.items():
            if len(key) != KEY_BYTES:
                raise KeyringError(f"key {key_id!r} must be {KEY_BYTES} bytes")
            aead[key_id] = AESGCM(key)
        object.__setattr__(self, "_aead", aead)

    def __repr__(self) -> str:
        return f"Keyring(key_ids={sorted(self.keys)!r}, active={self.active!r})"

    @classmethod
    def from_encoded(cls, keys: Mapping[str, str], active: str) -> Keyring:
        """Build a ring from base64 (standard or url-safe) encoded 32-byte keys."""
        decoded: dict[str, bytes] = {}
        for key_id, text in keys.items():
            try:
                decoded[key_id] = base64.urlsafe_b64decode(
                    text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4)
                )
            except (binascii.Error, ValueError) as exc:
                raise KeyringError(f"key {key_id!r} is not valid base64") from exc
        return cls(keys=decoded, active=active)

    @staticmethod
    def generate_key() -> str:
        """A fresh random key, url-safe base64 encoded (for operators and tests)."""
        return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip("=")

    def encrypt(self, plaintext: bytes, context: bytes) -> tuple[str, bytes]:
        """Seal ``plaintext`` under the active key; returns (key id, nonce || ciphertext)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[self.active].encrypt(nonce, plaintext, context)
        return self.active, nonce + sealed

    def decrypt(self, key_id: str, blob: bytes, context: bytes) -> bytes:
        """Open a blob sealed by :meth:`encrypt` under key ``key_id``."""
        aead = self._aead.get(key_id)
        if aead is None:
            raise KeyringError(f"key {key_id!r} is not in the key ring")
        try:
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context)
        except InvalidTag as exc:
            raise KeyringError("ciphertext failed authentication") from exc

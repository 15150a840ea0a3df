"""Temporal payload codec: AES-256-GCM with a data key per tenant, under the key ring.

Run inputs, tool arguments and results and outputs travel through Temporal as
payloads; this codec encrypts each one before it leaves the process, so Temporal's
database and Web UI hold ciphertext. API, worker and CLI all use it (through
`temporal_client.connection.data_converter(codec)`) so every side can read what the
other wrote.

* Tenant: taken from the payload's serialization context (the workflow id, which the
  API makes `<tenant>:<key>`; child runs extend their parent's id). Payloads without a
  workflow context use the `platform` pseudo-tenant.
* Keys: the tenant's data key is derived with HKDF-SHA256 from a platform key ring
  key (`TREEFLOW_SECRET_KEYS`) and the tenant id. New payloads use the active key;
  each payload names its key id, so after a rotation old runs stay readable as long
  as the old key stays in the ring.
* Format: metadata `encoding=binary/encrypted`, `encryption-key-id`, `treeflow-tenant`,
  `encryption-cipher`; data = nonce || AES-GCM(serialized original payload), with the
  tenant and key id as associated data, so a payload moved to another tenant fails.
* Decoding passes unencrypted payloads through unchanged: histories recorded before
  the codec was enabled still replay.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from typing import Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext

from foundation.secrets.keyring import NONCE_BYTES, Keyring, KeyringError

ENCODING = b"binary/encrypted"
CIPHER = b"AES-256-GCM"
META_ENCODING = "encoding"
META_KEY_ID = "encryption-key-id"
META_TENANT = "treeflow-tenant"
META_CIPHER = "encryption-cipher"
PLATFORM_TENANT = "platform"
"""The tenant of payloads that belong to no run (no workflow in their context)."""
MAX_CACHED_DATA_KEYS = 4096
"""Derived (key id, tenant) data keys kept in memory per process; the cache restarts
when full (deriving one costs a few microseconds)."""
_KDF_INFO = b"treeflow-payload-key:v1:"
_AAD = b"treeflow-payload:v1:"


class PayloadDecryptError(Exception):
    """A payload could not be decrypted (unknown key id, or it failed authentication)."""


def tenant_of_workflow(workflow_id: str | None) -> str:
    """The tenant a run's payloads belong to, from its workflow id (`<tenant>:<key>`)."""
    if not workflow_id or ":" not in workflow_id:
        return PLATFORM_TENANT
    return workflow_id.split(":", 1)[0] or PLATFORM_TENANT


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get(META_ENCODING) == ENCODING


def payload_tenant(payload: Payload) -> str | None:
    """The tenant an encrypted payload belongs to (None for plaintext)."""
    if not is_encrypted(payload):
        return None
    return payload.metadata.get(META_TENANT, b"").decode("utf-8", "replace")


class _DataKeys:
    """Per-(key id, tenant) AES-GCM instances derived from the ring, cached."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._cache: dict[tuple[str, str], AESGCM] = {}

    def get(self, key_id: str, tenant: str) -> AESGCM:
        found = self._cache.get((key_id, tenant))
        if found is not None:
            return found
        master = self.keyring.keys.get(key_id)
        if master is None:
            raise PayloadDecryptError(f"payload key {key_id!r} is not in the key ring")
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_KDF_INFO + tenant.encode()
        ).derive(master)
        if len(self._cache) >= MAX_CACHED_DATA_KEYS:
            self._cache.clear()
        aead = self._cache[(key_id, tenant)] = AESGCM(derived)
        return aead


class TenantPayloadCodec(PayloadCodec, WithSerializationContext):
    """Encrypts payloads with the data key of the tenant whose run they belong to."""

    def __init__(
        self, keyring: Keyring, *, tenant: str = PLATFORM_TENANT, _keys: _DataKeys | None = None
    ) -> None:
        self._keys = _keys or _DataKeys(keyring)
        self.tenant = tenant

    def __repr__(self) -> str:
        return f"TenantPayloadCodec(tenant={self.tenant!r}, keyring={self._keys.keyring!r})"

    def with_context(self, context: SerializationContext) -> Self:
        """A codec for the tenant of the workflow the payloads belong to."""
        workflow_id = getattr(context, "workflow_id", None)
        return type(self)(
            self._keys.keyring, tenant=tenant_of_workflow(workflow_id), _keys=self._keys
        )

    def for_tenant(self, tenant: str) -> TenantPayloadCodec:
        """The same codec encrypting for `tenant` (the codec endpoint's encode)."""
        return TenantPayloadCodec(self._keys.keyring, tenant=tenant, _keys=self._keys)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        if is_encrypted(payload):
            return payload
        key_id = self._keys.keyring.active
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys.get(key_id, self.tenant).encrypt(
            nonce, payload.SerializeToString(), _aad(self.tenant, key_id)
        )
        return Payload(
            metadata={
                META_ENCODING: ENCODING,
                META_CIPHER: CIPHER,
                META_KEY_ID: key_id.encode(),
                META_TENANT: self.tenant.encode(),
            },
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload, *, tenants: Collection[str] | None = None) -> Payload:
        """The original payload; plaintext passes through. With `tenants`, payloads of
        any other tenant are returned still encrypted (the codec endpoint's rule)."""
        if not is_encrypted(payload):
            return payload
        tenant = payload_tenant(payload) or ""
        if tenants is not None and tenant not in tenants:
            return payload
        key_id = payload.metadata.get(META_KEY_ID, b"").decode("utf-8", "replace")
        blob = payload.data
        try:
            plain = self._keys.get(key_id, tenant).decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(tenant, key_id)
            )
        except InvalidTag:
            raise PayloadDecryptError("payload failed authentication") from None
        original = Payload()
        original.ParseFromString(plain)
        return original


def _aad(tenant: str, key_id: str) -> bytes:
    return _AAD + tenant.encode() + b":" + key_id.encode()


def payload_encryption_enabled(setting: bool | None, *, dev_mode: bool) -> bool:
    """`TREEFLOW_PAYLOAD_ENCRYPTION`: on by default in production mode, opt-in in dev."""
    return (not dev_mode) if setting is None else setting


__all__ = [
    "ENCODING",
    "PLATFORM_TENANT",
    "KeyringError",
    "PayloadDecryptError",
    "TenantPayloadCodec",
    "is_encrypted",
    "payload_encryption_enabled",
    "payload_tenant",
    "tenant_of_workflow",
]

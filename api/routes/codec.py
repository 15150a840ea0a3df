"""The remote payload codec for the Temporal Web UI: decode (and encode) a tenant's payloads.

Temporal's remote codec protocol: `POST <endpoint>/decode` and `POST <endpoint>/encode`
with `{"payloads": [{"metadata": {name: base64}, "data": base64}]}` (the JSON form of
`temporal.api.common.v1.Payloads`), answered in the same shape. The endpoint is per
tenant (`/v1/tenants/{tenant_id}/codec`); it authenticates like every route, decodes
only payloads sealed for that tenant (any other payload comes back unchanged, still
encrypted), and every call is audited. Browsers may call it from the configured
Temporal UI origin only (`api.codec_cors`).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from temporalio.api.common.v1 import Payload

from api.deps import AuditDep, ServicesDep
from api.problems import FieldError, invalid, not_found
from api.rbac import Access, Permission, requires
from api.routes.common import RESPONSES
from foundation.secrets.payload_codec import PayloadDecryptError, TenantPayloadCodec

router = APIRouter(prefix="/v1/tenants/{tenant_id}/codec", tags=["codec"], responses=RESPONSES)
MAX_CODEC_PAYLOADS = 2000
"""Payloads per codec request (the request body limit applies too)."""


class PayloadJson(BaseModel):
    """One payload: metadata values and data, base64 encoded."""

    model_config = ConfigDict(extra="ignore")
    metadata: dict[str, str] = Field(default_factory=dict, examples=[{"encoding": "YmluYXJ5"}])
    data: str = ""


class PayloadsJson(BaseModel):
    model_config = ConfigDict(extra="ignore")
    payloads: list[PayloadJson] = Field(default_factory=list, max_length=MAX_CODEC_PAYLOADS)


def _b64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("1 field is invalid", FieldError(field=where, message="not base64")) from None


def _to_proto(payloads: PayloadsJson) -> list[Payload]:
    return [
        Payload(
            metadata={
                key: _b64(value, f"body.payloads.{index}.metadata.{key}")
                for key, value in item.metadata.items()
            },
            data=_b64(item.data, f"body.payloads.{index}.data"),
        )
        for index, item in enumerate(payloads.payloads)
    ]


def _to_json(payloads: list[Payload]) -> PayloadsJson:
    return PayloadsJson(
        payloads=[
            PayloadJson(
                metadata={k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                data=base64.b64encode(p.data).decode(),
            )
            for p in payloads
        ]
    )


def _codec(services: ServicesDep) -> TenantPayloadCodec:
    if services.payload_codec is None:
        raise not_found("payload codec")
    return services.payload_codec


@router.post("/decode")
async def decode_payloads(
    body: PayloadsJson,
    access: Annotated[Access, requires(Permission.RUNS_READ)],
    services: ServicesDep,
    audit: AuditDep,
) -> PayloadsJson:
    """Decrypt this tenant's payloads; others (and plaintext) come back unchanged."""
    codec = _codec(services)
    tenant = str(access.tenant_id)
    decoded: list[Payload] = []
    opened = 0
    for payload in _to_proto(body):
        try:
            plain = codec.decrypt(payload, tenants={tenant})
        except PayloadDecryptError:
            plain = payload
        opened += plain is not payload
        decoded.append(plain)
    audit.detail(payloads=len(decoded), decoded=opened)
    return _to_json(decoded)


@router.post("/encode")
async def encode_payloads(
    body: PayloadsJson,
    access: Annotated[Access, requires(Permission.RUNS_SIGNAL)],
    services: ServicesDep,
    audit: AuditDep,
) -> PayloadsJson:
    """Encrypt payloads for this tenant (the UI encodes signal and start inputs)."""
    codec = _codec(services).for_tenant(str(access.tenant_id))
    encoded = [codec.encrypt(payload) for payload in _to_proto(body)]
    audit.detail(payloads=len(encoded))
    return _to_json(encoded)

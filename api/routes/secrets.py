"""Tenant secrets (LLM or Weaviate keys): write-only values, listed by name and version.

Workflows carry ``secret://<tenant>/<name>`` references; activities resolve them through
the same store at run time, so values never enter workflow inputs or histories.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from api.deps import AuditDep, SecretStoreDep
from api.problems import not_found
from api.rbac import Access, Permission, requires
from api.routes.common import RESPONSES
from foundation.secrets import SecretMeta, SecretRef
from foundation.secrets.store import SECRET_NAME_PATTERN

router = APIRouter(prefix="/v1/tenants/{tenant_id}/secrets", tags=["secrets"], responses=RESPONSES)
SecretName = Annotated[str, Path(pattern=SECRET_NAME_PATTERN, examples=["openai-api-key"])]
MAX_SECRET_BYTES = 64 * 1024


class SecretWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"value": "sk-...redacted"}]}
    )

    value: SecretStr = Field(min_length=1, max_length=MAX_SECRET_BYTES, description="Write-only.")


class SecretOut(BaseModel):
    name: str = Field(examples=["openai-api-key"])
    version: int = Field(examples=[3])
    reference: str = Field(
        examples=["secret://5d1c0c1e-8d1b-4b7a-9a39-6c7d1e2f3a4b/openai-api-key"],
        description="What trees and tools use to refer to the secret.",
    )
    created_at: datetime
    updated_at: datetime


class SecretList(BaseModel):
    secrets: list[SecretOut]


def _out(access: Access, meta: SecretMeta) -> SecretOut:
    assert access.tenant_id is not None
    return SecretOut(
        name=meta.name,
        version=meta.version,
        reference=str(SecretRef(access.tenant_id, meta.name)),
        created_at=meta.created_at,
        updated_at=meta.updated_at,
    )


@router.get("")
async def list_secrets(
    access: Annotated[Access, requires(Permission.SECRETS_READ)], store: SecretStoreDep
) -> SecretList:
    """Names and versions (never values)."""
    assert access.tenant_id is not None
    return SecretList(secrets=[_out(access, m) for m in await store.list(access.tenant_id)])


@router.put("/{name}")
async def put_secret(
    name: SecretName,
    body: SecretWrite,
    access: Annotated[Access, requires(Permission.SECRETS_WRITE)],
    store: SecretStoreDep,
    audit: AuditDep,
) -> SecretOut:
    """Create or replace a secret; replacing bumps its version."""
    assert access.tenant_id is not None
    meta = await store.put(access.tenant_id, name, body.value.get_secret_value())
    audit.detail(version=meta.version)
    return _out(access, meta)


@router.delete("/{name}", status_code=204)
async def delete_secret(
    name: SecretName,
    access: Annotated[Access, requires(Permission.SECRETS_WRITE)],
    store: SecretStoreDep,
) -> None:
    """Delete a secret; runs that reference it fail when they try to resolve it."""
    assert access.tenant_id is not None
    if not await store.delete(access.tenant_id, name):
        raise not_found("secret")

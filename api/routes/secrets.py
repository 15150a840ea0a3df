"""Tenant secrets (LLM or Weaviate keys): write-only values, listed by name and version.

Workflows carry ``secret://<tenant>/<name>`` references; activities resolve them through
the same store at run time, so values never enter workflow inputs or histories.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator

from activities.http_policy import header_value_problem
from api.problems import not_found
from api.rbac import Permission
from api.routes.common import RESPONSES, TenantScope, strict_body, tenant_scope
from foundation.secrets import SecretMeta, SecretNotFoundError, SecretPolicy, SecretRef
from foundation.secrets.store import MAX_POLICY_TOOLS, SECRET_NAME_PATTERN

router = APIRouter(prefix="/v1/tenants/{tenant_id}/secrets", tags=["secrets"], responses=RESPONSES)
SecretName = Annotated[str, Path(pattern=SECRET_NAME_PATTERN, examples=["openai-api-key"])]
MAX_SECRET_BYTES = 64 * 1024
ToolNamePattern = r"^[a-z][a-z0-9_.-]{0,63}$"
WriteSecrets = Annotated[TenantScope, tenant_scope(Permission.SECRETS_WRITE)]


class SecretWrite(BaseModel):
    model_config = strict_body({"value": "sk-...redacted"})

    format: Literal["token", "text"] = Field(
        default="token",
        description="`token` (default): a credential sent in HTTP headers, so no leading or "
        "trailing whitespace and no control characters. `text`: anything (PEM keys, JSON "
        "documents); such values cannot be used in a header.",
    )
    value: SecretStr = Field(min_length=1, max_length=MAX_SECRET_BYTES, description="Write-only.")

    @field_validator("value")
    @classmethod
    def _token_shape(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if info.data.get("format", "token") == "token":
            problem = header_value_problem(value.get_secret_value())
            if problem is not None:
                raise ValueError(
                    f"a token secret cannot contain {problem}; remove it, or store the "
                    'value with "format": "text" (then it cannot be used in a header)'
                )
        return value


class SecretPolicyWrite(BaseModel):
    model_config = strict_body({"allowed_tools": ["crm-lookup"]})

    allowed_tools: list[Annotated[str, Field(pattern=ToolNamePattern)]] | None = Field(
        max_length=MAX_POLICY_TOOLS,
        description="Tool names (any version) that may resolve the secret. `null`: every "
        "tool except `http_request`, whose caller picks the destination; list "
        "`http_request` explicitly to let trees send the secret to any allow-listed host.",
    )


class SecretOut(BaseModel):
    name: str = Field(examples=["openai-api-key"])
    version: int = Field(examples=[3])
    reference: str = Field(
        examples=["secret://5d1c0c1e-8d1b-4b7a-9a39-6c7d1e2f3a4b/openai-api-key"],
        description="What trees and tools use to refer to the secret.",
    )
    created_at: datetime
    updated_at: datetime
    allowed_tools: list[str] | None = Field(
        default=None, description="Tools that may use it (`null`: all but `http_request`)."
    )


class SecretList(BaseModel):
    secrets: list[SecretOut]


def _out(call: TenantScope, meta: SecretMeta) -> SecretOut:
    return SecretOut(
        name=meta.name,
        version=meta.version,
        reference=str(SecretRef(call.tenant_id, meta.name)),
        created_at=meta.created_at,
        updated_at=meta.updated_at,
        allowed_tools=None if meta.allowed_tools is None else list(meta.allowed_tools),
    )


@router.get("")
async def list_secrets(
    call: Annotated[TenantScope, tenant_scope(Permission.SECRETS_READ)],
) -> SecretList:
    """Names and versions (never values)."""
    found = await call.services.secrets.list(call.tenant_id)
    return SecretList(secrets=[_out(call, m) for m in found])


@router.put("/{name}")
async def put_secret(name: SecretName, body: SecretWrite, call: WriteSecrets) -> SecretOut:
    """Create or replace a secret; replacing bumps its version."""
    meta = await call.services.secrets.put(call.tenant_id, name, body.value.get_secret_value())
    call.audit.detail(version=meta.version)
    return _out(call, meta)


@router.put("/{name}/policy")
async def put_secret_policy(
    name: SecretName, body: SecretPolicyWrite, call: WriteSecrets
) -> SecretOut:
    """Set which tools may resolve the secret (runs of other tools fail, not leak)."""
    allowed = None if body.allowed_tools is None else tuple(dict.fromkeys(body.allowed_tools))
    try:
        meta = await call.services.secrets.set_policy(call.tenant_id, name, SecretPolicy(allowed))
    except SecretNotFoundError:
        raise not_found("secret") from None
    call.audit.detail(allowed_tools=list(allowed) if allowed is not None else None)
    return _out(call, meta)


@router.delete("/{name}", status_code=204)
async def delete_secret(name: SecretName, call: WriteSecrets) -> None:
    """Delete a secret; runs that reference it fail when they try to resolve it."""
    if not await call.services.secrets.delete(call.tenant_id, name):
        raise not_found("secret")

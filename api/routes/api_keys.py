"""Tenant API keys for machine clients: create (secret shown once), list, rotate, revoke."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator

from api.auth.apikeys import KEY_PREFIX
from api.auth.delegation import check_key_manageable, check_not_rotated, check_within
from api.db.models import ApiKey, Role, utcnow
from api.problems import not_found
from api.rbac import Permission, Scope
from api.routes.common import (
    RESPONSES,
    Name,
    TenantScope,
    latest_of_tenant,
    strict_body,
    tenant_scope,
)

router = APIRouter(
    prefix="/v1/tenants/{tenant_id}/api-keys", tags=["api-keys"], responses=RESPONSES
)
ManageKeys = Annotated[TenantScope, tenant_scope(Permission.API_KEYS_MANAGE)]
TENANT_PERMISSIONS = sorted(p.value for p in Permission if p.scope is Scope.TENANT)


class ApiKeyCreate(BaseModel):
    model_config = strict_body(
        {
            "name": "ci-runner",
            "role": "user",
            "scopes": ["runs:start", "runs:read"],
            "expires_in_days": 90,
        }
    )

    name: Name
    role: Role = Role.USER
    scopes: list[str] | None = Field(
        default=None,
        max_length=64,
        description="Restrict the key to these permissions (within its role). Null: the role's.",
    )
    expires_in_days: int | None = Field(default=90, ge=1, le=3650, description="Null: never.")

    @field_validator("scopes")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            unknown = sorted(set(value) - set(TENANT_PERMISSIONS))
            if unknown:
                raise ValueError(f"unknown scopes: {', '.join(unknown[:5])}")
        return value


class ApiKeyRotate(BaseModel):
    model_config = strict_body({"grace_seconds": 3600})

    grace_seconds: int | None = Field(
        default=None, ge=0, le=30 * 24 * 3600, description="How long the old key keeps working."
    )


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str = Field(examples=["ci-runner"])
    prefix: str = Field(
        examples=["tfk_3f9a1c2b4d5e6f70"], description="Identifies the key; not a secret."
    )
    role: Role | None
    scopes: list[str] | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: uuid.UUID | None

    @classmethod
    def of(cls, k: ApiKey) -> ApiKeyOut:
        return cls(
            id=k.id,
            name=k.name,
            prefix=f"{KEY_PREFIX}{k.public_id}",
            role=Role(k.role) if k.role else None,
            scopes=k.scopes,
            created_by=k.created_by,
            created_at=k.created_at,
            expires_at=k.expires_at,
            revoked_at=k.revoked_at,
            replaced_by=k.replaced_by,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(
        examples=["tfk_3f9a1c2b4d5e6f70_N2s...shown-once"],
        description="The full key. Shown only in this response; store it now.",
    )


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyOut]


async def _key(call: TenantScope, key_id: uuid.UUID) -> ApiKey:
    key = await call.session.get(ApiKey, key_id)
    if key is None or key.tenant_id != call.tenant_id:
        raise not_found("API key")
    return key


@router.post("", status_code=201)
async def create_key(body: ApiKeyCreate, call: ManageKeys) -> ApiKeyCreated:
    """Create a key. The response carries the only copy of its secret.

    The key can hold no permission the caller does not hold (role and scopes)."""
    check_within(call.access, body.role, body.scopes, "the new key")
    expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    key, raw = await call.services.api_keys.create(
        call.session,
        name=body.name,
        created_by=call.actor,
        tenant_id=call.tenant_id,
        role=body.role,
        scopes=body.scopes,
        expires_at=expires,
    )
    await call.session.commit()
    call.audit.target(key.id)
    return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), key=raw)


@router.get("")
async def list_keys(call: ManageKeys) -> ApiKeyList:
    """Keys of the tenant (never their secrets)."""
    rows = await latest_of_tenant(call.session, ApiKey, call.tenant_id)
    return ApiKeyList(api_keys=[ApiKeyOut.of(k) for k in rows])


@router.post("/{key_id}/rotate", status_code=201)
async def rotate_key(
    key_id: uuid.UUID, call: ManageKeys, body: ApiKeyRotate | None = None
) -> ApiKeyCreated:
    """Issue a successor key; the old one keeps working for the grace period, then stops.

    A key that already has a successor answers 409; only a full-scope admin rotates keys
    it does not own."""
    key = await _key(call, key_id)
    if key.revoked_at is not None:
        raise not_found("API key")
    check_key_manageable(call.access, key)
    check_not_rotated(key)
    grace = body.grace_seconds if body and body.grace_seconds is not None else None
    new, raw = await call.services.api_keys.rotate(
        call.session,
        key,
        grace_seconds=grace
        if grace is not None
        else call.services.settings.api_key_rotation_grace_seconds,
        created_by=call.actor,
    )
    await call.session.commit()
    call.audit.detail(successor=str(new.id))
    return ApiKeyCreated(**ApiKeyOut.of(new).model_dump(), key=raw)


@router.delete("/{key_id}", status_code=204)
async def revoke_key(key_id: uuid.UUID, call: ManageKeys) -> None:
    """Revoke a key now (other replicas drop it within the key cache lifetime)."""
    key = await _key(call, key_id)
    check_key_manageable(call.access, key)
    call.services.api_keys.revoke(key)
    await call.session.commit()

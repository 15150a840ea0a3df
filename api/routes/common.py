"""Field types and helpers shared by route modules."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import Field

from api.problems import PROBLEM_RESPONSES, not_found
from api.rbac import Access
from api.services import Services
from api.tenancy import TenantSettings

NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_CONTROL)]
DisplayName = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL)]
Email = Annotated[
    str,
    Field(
        max_length=320,
        pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$",
        examples=["ada@example.com"],
    ),
]
Domain = Annotated[
    str,
    Field(
        max_length=253,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        examples=["example.com"],
    ),
]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
RESPONSES = PROBLEM_RESPONSES


async def tenant_settings_of(services: Services, access: Access) -> TenantSettings:
    """The caller's tenant's settings (cached for a few seconds)."""
    assert access.tenant_id is not None
    settings = await services.tenant_settings.get(access.tenant_id)
    if settings is None:
        raise not_found("tenant")
    return settings

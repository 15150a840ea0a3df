"""Who is calling: the result of authentication, cheap to build and to check."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from api.db.models import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user (via access JWT) or a machine (via API key)."""

    subject: str
    """``user:<uuid>`` or ``apikey:<uuid>``; what the audit log records as the actor."""
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    operator: bool = False
    roles: Mapping[uuid.UUID, Role] = field(default_factory=dict)
    scopes: frozenset[str] | None = None
    """For API keys with scopes: the only permissions the key may use (None = role's)."""
    session_id: uuid.UUID | None = None
    """For access tokens: the login session (refresh family); logout revokes it."""

    def role_in(self, tenant_id: uuid.UUID) -> Role | None:
        """The caller's role in a tenant, or None if it is not a member."""
        return self.roles.get(tenant_id)

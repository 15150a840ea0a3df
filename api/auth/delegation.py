"""What a caller may hand on: no principal mints, rotates or grants more than it holds.

A caller's *held* permissions in a tenant are its role's grants, narrowed by its API
key's scopes. A new key (or a rotated successor, or an invited/promoted member) carries
the permissions of its role narrowed by its scopes; that set must be a subset of what
the caller holds. Only a tenant admin with full scope may act on keys other than its
own (the keys it created, or itself).
"""

from __future__ import annotations

from collections.abc import Collection

from api.auth.principal import Principal
from api.db.models import ApiKey, Role
from api.problems import PROBLEM_BASE, ProblemError, forbidden
from api.rbac import ROLE_GRANTS, Access, Permission


def held(access: Access) -> frozenset[Permission]:
    """The tenant permissions the caller holds (role grants narrowed by key scopes)."""
    if access.role is None:
        return frozenset()
    grants = ROLE_GRANTS[access.role]
    scopes = access.actor.scopes
    return grants if scopes is None else frozenset(p for p in grants if p.value in scopes)


def carried(role: Role, scopes: Collection[str] | None) -> frozenset[Permission]:
    """The tenant permissions a key or member with ``role`` and ``scopes`` would have."""
    grants = ROLE_GRANTS[role]
    return grants if scopes is None else frozenset(p for p in grants if p.value in scopes)


def full_admin(access: Access) -> bool:
    """A tenant admin whose credential is not narrowed by scopes."""
    return access.role is Role.ADMIN and access.actor.scopes is None


def check_within(access: Access, role: Role, scopes: Collection[str] | None, what: str) -> None:
    """403 unless ``role`` + ``scopes`` stay within what the caller holds."""
    extra = carried(role, scopes) - held(access)
    if extra:
        names = ", ".join(sorted(p.value for p in extra)[:5])
        raise forbidden(f"{what} would hold permissions you do not hold: {names}")


def owns(principal: Principal, key: ApiKey) -> bool:
    """Whether ``key`` is the caller's own: the caller itself, or a key it created."""
    return key.created_by == principal.subject or principal.api_key_id == key.id


def check_key_manageable(access: Access, key: ApiKey) -> None:
    """403 unless the caller may rotate or revoke ``key``; 409 if it was rotated already."""
    if not full_admin(access) and not owns(access.actor, key):
        raise forbidden("only a tenant admin with full scope may manage keys it does not own")
    check_within(access, Role(key.role) if key.role else Role.READ_ONLY, key.scopes, "the key")


def check_not_rotated(key: ApiKey) -> None:
    """409 when ``key`` already has a successor (rotate the successor instead)."""
    if key.replaced_by is not None:
        raise ProblemError(
            409,
            f"this key was already rotated; rotate its successor {key.replaced_by} instead",
            type_=PROBLEM_BASE + "conflict",
        )

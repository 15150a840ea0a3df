"""Where tenants' declarative tools are kept: the interface the API implements, plus a
reference implementation in memory (tests, the CLI, single-process setups).

Versions are immutable: saving `name@version` again with the same content is a
no-op, with different content it is refused (`VersionExists`); a change is a new
version. Deprecating a version marks it and keeps it runnable, as for Python tools.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from activities.declarative.model import DeclarativeHttpTool, validate_definition
from activities.versions import Version


class VersionExists(ValueError):
    """`name@version` is already stored with different content."""


class UnknownDeclarativeTool(LookupError):
    """No such tool version for this tenant."""


@dataclass(frozen=True, slots=True)
class StoredTool:
    """One stored version of a tenant's tool."""

    tenant_id: str
    tool: DeclarativeHttpTool
    content_hash: str

    @property
    def key(self) -> str:
        return self.tool.activity_name


@runtime_checkable
class DeclarativeToolStore(Protocol):
    """Per-tenant, versioned storage of declarative tools (the API's SQL table implements it)."""

    async def save(self, tenant_id: str, tool: DeclarativeHttpTool) -> StoredTool:
        """Store a validated definition; idempotent for identical content."""
        ...

    async def get(self, tenant_id: str, name: str, version: str) -> StoredTool | None:
        """One version, or None."""
        ...

    async def list(self, tenant_id: str, name: str | None = None) -> list[StoredTool]:
        """Every stored version of the tenant's tools (of one tool when `name` is given),
        ordered by name then version."""
        ...

    async def deprecate(self, tenant_id: str, name: str, version: str, message: str) -> StoredTool:
        """Mark a version deprecated (compilers warn; it keeps running)."""
        ...


async def register(
    store: DeclarativeToolStore,
    tenant_id: str,
    definition: Mapping[str, Any] | DeclarativeHttpTool,
    *,
    allowed_hosts: Sequence[str],
    reserved_names: Collection[str] = (),
) -> StoredTool:
    """Validate a definition for a tenant (its host allow-list, names taken by Python
    tools) and store it. This is what the API's `POST /tools` calls."""
    tool = validate_definition(
        definition, allowed_hosts=allowed_hosts, reserved_names=reserved_names
    )
    return await store.save(tenant_id, tool)


class InMemoryToolStore:
    """`DeclarativeToolStore` in a dictionary; for tests and single-process use."""

    def __init__(self) -> None:
        self._tools: dict[tuple[str, str, Version], StoredTool] = {}

    async def save(self, tenant_id: str, tool: DeclarativeHttpTool) -> StoredTool:
        key = (tenant_id, tool.name, Version.parse(tool.version))
        stored = StoredTool(tenant_id=tenant_id, tool=tool, content_hash=tool.content_hash())
        existing = self._tools.get(key)
        if existing is not None:
            if existing.content_hash != stored.content_hash:
                raise VersionExists(
                    f"{tool.activity_name} already exists for tenant '{tenant_id}' with "
                    "different content; publish the change as a new version"
                )
            return existing
        self._tools[key] = stored
        return stored

    async def get(self, tenant_id: str, name: str, version: str) -> StoredTool | None:
        return self._tools.get((tenant_id, name, Version.parse(version)))

    async def list(self, tenant_id: str, name: str | None = None) -> list[StoredTool]:
        keys = sorted(
            k for k in self._tools if k[0] == tenant_id and (name is None or k[1] == name)
        )
        return [self._tools[k] for k in keys]

    async def deprecate(self, tenant_id: str, name: str, version: str, message: str) -> StoredTool:
        key = (tenant_id, name, Version.parse(version))
        existing = self._tools.get(key)
        if existing is None:
            raise UnknownDeclarativeTool(f"tenant '{tenant_id}' has no tool {name}@{version}")
        tool = existing.tool.model_copy(update={"deprecated": message})
        updated = StoredTool(tenant_id=tenant_id, tool=tool, content_hash=existing.content_hash)
        self._tools[key] = updated
        return updated

"""The compiler's view of one tenant's tools: the registry plus its declarative tools.

`compile_tree(tree, TenantToolCatalog(...))` resolves `name@constraint` against both.
For a declarative tool it also hands the compiler the definition (`definition`),
which the compiled tree carries to the worker, so a run never depends on the store
after it starts and workers need no database access to run tenant tools.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from activities.declarative.model import DeclarativeHttpTool, tool_spec
from activities.declarative.store import DeclarativeToolStore
from activities.registry import ToolRegistry
from activities.sdk import ToolSpec
from activities.versions import Version


class TenantToolCatalog:
    """Registry tools and one tenant's declarative tools behind the `ToolCatalog` protocol.

    A declarative tool never shadows a registered one: the registry wins, and
    `register` refuses such names in the first place.
    """

    def __init__(self, registry: ToolRegistry, tools: Iterable[DeclarativeHttpTool] = ()) -> None:
        self._registry = registry
        self._declarative: dict[str, dict[Version, DeclarativeHttpTool]] = {}
        for tool in tools:
            if tool.name in registry.names():
                continue
            self._declarative.setdefault(tool.name, {})[Version.parse(tool.version)] = tool

    @classmethod
    async def for_tenant(
        cls, registry: ToolRegistry, store: DeclarativeToolStore, tenant_id: str
    ) -> TenantToolCatalog:
        """The catalog for `tenant_id`, reading its tools from `store`."""
        return cls(registry, [stored.tool for stored in await store.list(tenant_id)])

    def versions(self, name: str) -> list[Version]:
        registered = self._registry.versions(name)
        if registered:
            return registered
        return sorted(self._declarative.get(name, {}))

    def spec(self, name: str, version: Version) -> ToolSpec:
        declarative = self._declarative.get(name, {}).get(version)
        if declarative is not None and not self._registry.versions(name):
            return tool_spec(declarative)
        return self._registry.spec(name, version)

    def definition(self, name: str, version: Version) -> dict[str, Any] | None:
        """The declarative definition to carry in the compiled tree, or None."""
        if self._registry.versions(name):
            return None
        declarative = self._declarative.get(name, {}).get(version)
        return declarative.model_dump(mode="json", by_alias=True) if declarative else None

    def names(self) -> list[str]:
        return sorted({*self._registry.names(), *self._declarative})

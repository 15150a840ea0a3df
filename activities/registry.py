"""The tool registry: every tool version keyed by `name@version`, served side by side."""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from activities.sdk import ToolDefinition, ToolSpec, definition_of, is_tool
from activities.versions import Constraint, ToolRef, Version

ENTRY_POINT_GROUP = "treeflow.tools"

log = logging.getLogger(__name__)


class RegistryError(ValueError):
    """A tool cannot be registered or resolved."""


@dataclass
class ToolRegistry:
    """Tool versions by name. Read-only for compilers; workers host every entry."""

    _tools: dict[str, dict[Version, ToolDefinition]] = field(default_factory=dict)

    def add(self, *objects: Any) -> ToolRegistry:
        """Register tools (decorated functions/classes, lists of them, or modules)."""
        for definition in _collect(objects):
            versions = self._tools.setdefault(definition.spec.name, {})
            existing = versions.get(definition.spec.version)
            if existing is not None and existing.target is not definition.target:
                raise RegistryError(
                    f"{definition.key} is registered twice by different implementations "
                    f"({_where(existing.target)} and {_where(definition.target)}); "
                    "bump the version of the changed tool"
                )
            versions[definition.spec.version] = definition
        return self

    def names(self) -> list[str]:
        return sorted(self._tools)

    def versions(self, name: str) -> list[Version]:
        return sorted(self._tools.get(name, {}))

    def get(self, name: str, version: Version | str) -> ToolDefinition:
        parsed = Version.parse(version) if isinstance(version, str) else version
        try:
            return self._tools[name][parsed]
        except KeyError:
            raise RegistryError(f"no tool {name}@{parsed} is registered") from None

    def spec(self, name: str, version: Version) -> ToolSpec:
        return self.get(name, version).spec

    def resolve(self, ref: ToolRef | str) -> ToolDefinition:
        """The highest registered version matching `name@constraint`."""
        parsed = ToolRef.parse(ref) if isinstance(ref, str) else ref
        best = parsed.constraint.best(self.versions(parsed.name))
        if best is None:
            raise RegistryError(f"no version of '{parsed.name}' matches '{parsed.constraint}'")
        return self.get(parsed.name, best)

    def matching(self, name: str, constraint: Constraint) -> list[Version]:
        return [v for v in self.versions(name) if constraint.allows(v)]

    def __iter__(self) -> Iterator[ToolDefinition]:
        for name in self.names():
            yield from (self._tools[name][v] for v in self.versions(name))

    def __len__(self) -> int:
        return sum(len(v) for v in self._tools.values())

    @classmethod
    def discover(cls, *, entry_points: bool = True) -> ToolRegistry:
        """Built-in tools plus every tool published under the `treeflow.tools` group."""
        from activities.builtin import BUILTIN_TOOLS

        registry = cls().add(BUILTIN_TOOLS)
        if entry_points:
            for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                try:
                    loaded = entry_point.load()
                except Exception as exc:
                    raise RegistryError(
                        f"tool entry point '{entry_point.name}' ({entry_point.value}) "
                        f"failed to load: {exc}"
                    ) from exc
                registry.add(loaded)
                log.debug("loaded tools from entry point %s", entry_point.value)
        return registry


def _collect(objects: Iterable[Any]) -> Iterator[ToolDefinition]:
    for obj in objects:
        if is_tool(obj):
            yield definition_of(obj)
        elif isinstance(obj, types.ModuleType):
            yield from _collect(
                value
                for _, value in inspect.getmembers(obj)
                if is_tool(value) and getattr(value, "__module__", None) == obj.__name__
            )
        elif isinstance(obj, list | tuple | set | frozenset):
            yield from _collect(obj)
        else:
            raise RegistryError(f"{obj!r} is not a tool, a module of tools or a list of tools")


def _where(target: Any) -> str:
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', '?')}"

"""The one way every process (CLI, API, worker) builds its tool registry.

Built-in tools and the ``treeflow.tools`` entry points come from
:meth:`ToolRegistry.discover`; tools shipped without packaging come from the modules
named in ``TREEFLOW_WORKER_TOOL_MODULES`` (a JSON list of ``package.module`` or
``package.module:ATTRIBUTE``). A tree that compiles in ``treeflow compile`` therefore
compiles in the API and runs on a worker configured the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.registry import RegistryError, ToolRegistry

TOOL_MODULES_ENV = "TREEFLOW_WORKER_TOOL_MODULES"


class ToolModuleSettings(BaseSettings):
    """``TREEFLOW_WORKER_TOOL_MODULES``: read by every process, not only by workers."""

    model_config = SettingsConfigDict(env_prefix="TREEFLOW_WORKER_", extra="ignore")

    tool_modules: list[str] = Field(
        default_factory=list,
        description="Extra tools, as 'package.module' or 'package.module:ATTRIBUTE' "
        "(for tools not published under the treeflow.tools entry point group).",
    )


class ToolModuleError(RegistryError):
    """A configured tool module cannot be imported or has no such attribute."""


def build_registry(tool_modules: Sequence[str] | None = None) -> ToolRegistry:
    """Built-in and entry-point tools plus ``tool_modules`` (default: from the environment)."""
    references = ToolModuleSettings().tool_modules if tool_modules is None else tool_modules
    registry = ToolRegistry.discover()
    for reference in references:
        module_name, _, attribute = reference.partition(":")
        try:
            module = importlib.import_module(module_name)
        except (ImportError, SyntaxError) as exc:
            raise ToolModuleError(
                f"{TOOL_MODULES_ENV}: cannot import '{module_name}': {exc}"
            ) from None
        if attribute and not hasattr(module, attribute):
            raise ToolModuleError(f"{TOOL_MODULES_ENV}: '{module_name}' has no '{attribute}'")
        registry.add(getattr(module, attribute) if attribute else module)
    return registry

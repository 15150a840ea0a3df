"""Compiling trees for a tenant: the tools it may use, and compile errors as 422s."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities.declarative.catalog import TenantToolCatalog
from activities.registry import ToolRegistry
from activities.sdk import ToolSpec
from activities.versions import Version
from api.declarative import SessionToolStore
from api.problems import PROBLEM_BASE, FieldError, ProblemError
from api.tenancy import TenantSettings
from workflows.compiled import CompiledTree
from workflows.compiler import CompileError, CompileIssue, compile_tree
from workflows.spec import TreeSpec


@dataclass(frozen=True)
class TenantCatalog:
    """The tools one tenant sees: the registry plus its declarative tools, minus
    anything outside its `allowed_tools`.

    Decision activities (router, llm_decision) are part of the platform and always
    available; only tools are filtered.
    """

    tools: TenantToolCatalog
    settings: TenantSettings

    def versions(self, name: str) -> list[Version]:
        versions = self.tools.versions(name)
        if not versions:
            return []
        kind = self.tools.spec(name, versions[0]).kind
        if kind == "tool" and not self.settings.allows_tool(name):
            return []
        return versions

    def spec(self, name: str, version: Version) -> ToolSpec:
        return self.tools.spec(name, version)

    def definition(self, name: str, version: Version) -> dict[str, Any] | None:
        return self.tools.definition(name, version)


async def tenant_catalog(
    session: AsyncSession, registry: ToolRegistry, tenant_id: uuid.UUID, settings: TenantSettings
) -> TenantCatalog:
    """The catalog for compiling one tenant's trees."""
    tools = await TenantToolCatalog.for_tenant(registry, SessionToolStore(session), str(tenant_id))
    return TenantCatalog(tools, settings)


def compile_problem(error: CompileError, field: str = "body.source") -> ProblemError:
    """A 422 listing every compile problem with its node path."""
    return ProblemError(
        422,
        f"{len(error.issues)} problem(s) in the tree",
        type_=PROBLEM_BASE + "invalid-tree",
        errors=[_field_error(issue, field) for issue in error.issues],
    )


def _field_error(issue: CompileIssue, field: str) -> FieldError:
    return FieldError(field=f"{field}.{issue.path}" if issue.path else field, message=issue.message)


def compile_for_tenant(
    source: TreeSpec | str, catalog: TenantCatalog, subtrees: Mapping[str, TreeSpec]
) -> CompiledTree:
    """Compile with the tenant's tools; sub-trees resolve from `subtrees` (prefetched)."""
    try:
        return compile_tree(source, catalog, load_tree=lambda name: subtrees.get(name))
    except CompileError as exc:
        raise compile_problem(exc) from None


def disallowed_tools(compiled: CompiledTree, settings: TenantSettings) -> list[FieldError]:
    """Tools a compiled tree (and its sub-trees) uses that the tenant may no longer use."""
    problems = []
    trees = [compiled, *compiled.subtrees.values()]
    for tree in trees:
        for node_id, pin in tree.pins().items():
            name = pin.split("@", 1)[0]
            node = tree.spec.nodes[node_id]
            if node.kind == "tool" and not settings.allows_tool(name):
                problems.append(
                    FieldError(
                        field=f"tree.nodes.{node_id}.tool",
                        message=f"tool '{name}' is not allowed for this tenant",
                    )
                )
    return problems

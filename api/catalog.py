"""Compiling trees for a tenant: the tools it may use, and compile errors as 422s."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from activities.registry import ToolRegistry
from activities.sdk import ToolSpec
from activities.versions import Version
from api.problems import PROBLEM_BASE, FieldError, ProblemError
from api.tenancy import TenantSettings
from workflows.compiled import CompiledTree
from workflows.compiler import CompileError, CompileIssue, compile_tree
from workflows.spec import TreeSpec


@dataclass(frozen=True)
class TenantCatalog:
    """The registry as one tenant sees it: tools outside `allowed_tools` do not exist.

    Decision activities (router, llm_decision) are part of the platform and always
    available; only tools are filtered.
    """

    registry: ToolRegistry
    settings: TenantSettings

    def versions(self, name: str) -> list[Version]:
        versions = self.registry.versions(name)
        if not versions:
            return []
        kind = self.registry.spec(name, versions[0]).kind
        if kind == "tool" and not self.settings.allows_tool(name):
            return []
        return versions

    def spec(self, name: str, version: Version) -> ToolSpec:
        return self.registry.spec(name, version)


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
    source: TreeSpec | str,
    registry: ToolRegistry,
    settings: TenantSettings,
    subtrees: Mapping[str, TreeSpec],
) -> CompiledTree:
    """Compile with the tenant's tools; sub-trees resolve from `subtrees` (prefetched)."""
    try:
        return compile_tree(
            source, TenantCatalog(registry, settings), load_tree=lambda name: subtrees.get(name)
        )
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

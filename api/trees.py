"""Tenant trees: immutable versions, publishing, diffs and soft deletion."""

from __future__ import annotations

import difflib
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import templates
from activities.registry import ToolRegistry
from api.catalog import compile_for_tenant, compile_problem, tenant_catalog
from api.db.models import TreeRecord, TreeVersionRecord, utcnow
from api.problems import FieldError, conflict, invalid, not_found
from api.tenancy import TenantSettings
from workflows.compiled import CompiledTree
from workflows.compiler import CompileError, parse_spec
from workflows.limits import MAX_SUBTREE_DEPTH
from workflows.spec import SubtreeNode, TreeSpec


def parse(source: str) -> TreeSpec:
    """Shape-check a tree's text; problems answer 422 with paths."""
    try:
        return parse_spec(source)
    except CompileError as exc:
        raise compile_problem(exc) from None


async def _live_tree(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> TreeRecord | None:
    result: TreeRecord | None = await session.scalar(
        sa.select(TreeRecord).where(
            TreeRecord.tenant_id == tenant_id,
            TreeRecord.name == name,
            TreeRecord.deleted_at.is_(None),
        )
    )
    return result


async def get_tree(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> TreeRecord:
    tree = await _live_tree(session, tenant_id, name)
    if tree is None:
        raise not_found("tree")
    return tree


async def list_trees(session: AsyncSession, tenant_id: uuid.UUID) -> list[TreeRecord]:
    rows = await session.scalars(
        sa.select(TreeRecord)
        .where(TreeRecord.tenant_id == tenant_id, TreeRecord.deleted_at.is_(None))
        .order_by(TreeRecord.name)
    )
    return list(rows)


async def get_version(session: AsyncSession, tree: TreeRecord, version: int) -> TreeVersionRecord:
    record = await session.get(TreeVersionRecord, (tree.id, version))
    if record is None:
        raise not_found("tree version")
    return record


async def subtree_specs(
    session: AsyncSession, tenant_id: uuid.UUID, spec: TreeSpec
) -> dict[str, TreeSpec]:
    """Every tree a spec's subtree nodes name, transitively: the tenant's published
    (or latest) version first, then a built-in template of that name."""
    found: dict[str, TreeSpec] = {}
    pending = _subtree_names(spec)
    depth = 0
    while pending and depth < MAX_SUBTREE_DEPTH:
        depth += 1
        next_round: set[str] = set()
        for name in sorted(pending - set(found)):
            child = await _named_spec(session, tenant_id, name)
            if child is not None:
                found[name] = child
                next_round |= _subtree_names(child)
        pending = next_round
    return found


def _subtree_names(spec: TreeSpec) -> set[str]:
    names: set[str] = set()
    for node in spec.nodes.values():
        if isinstance(node, SubtreeNode):
            if node.tree is not None:
                names.add(node.tree)
            elif node.spec is not None:
                names |= _subtree_names(node.spec)
    return names


async def _named_spec(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> TreeSpec | None:
    tree = await _live_tree(session, tenant_id, name)
    if tree is not None:
        version = await session.get(
            TreeVersionRecord, (tree.id, tree.published_version or tree.latest_version)
        )
        if version is not None:
            return _stored_spec(name, version.source)
    text = templates.tree_text(name)
    return parse_spec(text) if text is not None else None


def _stored_spec(name: str, source: str) -> TreeSpec:
    """A stored version's spec; one stored before a limit it breaks answers 422, not 500."""
    try:
        return parse_spec(source)
    except CompileError as exc:
        raise compile_problem(exc, f"subtree({name})") from None


async def compile_source(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    source: str,
    registry: ToolRegistry,
    settings: TenantSettings,
) -> tuple[TreeSpec, CompiledTree]:
    spec = parse(source)
    children = await subtree_specs(session, tenant_id, spec)
    catalog = await tenant_catalog(session, registry, tenant_id, settings)
    return spec, compile_for_tenant(spec, catalog, children)


async def create_tree(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    actor: str,
    source: str,
    registry: ToolRegistry,
    settings: TenantSettings,
) -> tuple[TreeRecord, TreeVersionRecord]:
    spec, compiled = await compile_source(session, tenant_id, source, registry, settings)
    if await _live_tree(session, tenant_id, spec.name) is not None:
        raise conflict(
            f"tree '{spec.name}' exists; add a version with POST .../trees/{spec.name}/versions",
            "tree-exists",
        )
    tree = TreeRecord(
        id=uuid.uuid4(), tenant_id=tenant_id, name=spec.name, latest_version=1, created_by=actor
    )
    session.add(tree)
    version = _version_row(tree, 1, source, compiled, actor)
    session.add(version)
    await _commit(session, f"tree '{spec.name}' was created concurrently")
    return tree, version


async def add_version(
    session: AsyncSession,
    tree: TreeRecord,
    actor: str,
    source: str,
    registry: ToolRegistry,
    settings: TenantSettings,
) -> tuple[TreeVersionRecord, bool]:
    """A new immutable version; an identical source returns the latest one unchanged."""
    spec, compiled = await compile_source(session, tree.tenant_id, source, registry, settings)
    if spec.name != tree.name:
        raise invalid(
            "the tree's name cannot change between versions",
            FieldError(field="body.source.name", message=f"must be '{tree.name}'"),
        )
    latest = await get_version(session, tree, tree.latest_version)
    if latest.source == source and latest.hash == compiled.hash:
        return latest, False
    tree.latest_version += 1
    tree.updated_at = utcnow()
    version = _version_row(tree, tree.latest_version, source, compiled, actor)
    session.add(version)
    await _commit(session, "another version was added at the same time; retry")
    return version, True


def _version_row(
    tree: TreeRecord, number: int, source: str, compiled: CompiledTree, actor: str
) -> TreeVersionRecord:
    return TreeVersionRecord(
        tree_id=tree.id,
        version=number,
        source=source,
        compiled=compiled.model_dump(mode="json"),
        hash=compiled.hash,
        created_by=actor,
    )


async def _commit(session: AsyncSession, on_conflict: str) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise conflict(on_conflict) from None


async def publish(session: AsyncSession, tree: TreeRecord, version: int) -> None:
    await get_version(session, tree, version)
    tree.published_version = version
    tree.updated_at = utcnow()
    await session.commit()


async def soft_delete(session: AsyncSession, tree: TreeRecord, actor: str) -> None:
    tree.deleted_at = utcnow()
    tree.deleted_by = actor
    await session.commit()


def compiled_of(version: TreeVersionRecord) -> CompiledTree:
    return CompiledTree.model_validate(version.compiled)


@dataclass
class TreeDiff:
    """What changed between two versions, by meaning and as text."""

    hash_changed: bool
    nodes_added: list[str] = field(default_factory=list)
    nodes_removed: list[str] = field(default_factory=list)
    nodes_changed: list[str] = field(default_factory=list)
    pins_changed: dict[str, dict[str, str | None]] = field(default_factory=dict)
    unified: str = ""


def diff(old: TreeVersionRecord, new: TreeVersionRecord) -> TreeDiff:
    before, after = compiled_of(old), compiled_of(new)
    old_nodes: dict[str, Any] = before.spec.model_dump(mode="json")["nodes"]
    new_nodes: dict[str, Any] = after.spec.model_dump(mode="json")["nodes"]
    old_pins, new_pins = before.pins(), after.pins()
    pins = {
        node: {"from": old_pins.get(node), "to": new_pins.get(node)}
        for node in sorted(set(old_pins) | set(new_pins))
        if old_pins.get(node) != new_pins.get(node)
    }
    unified = "".join(
        difflib.unified_diff(
            old.source.splitlines(keepends=True),
            new.source.splitlines(keepends=True),
            fromfile=f"version {old.version}",
            tofile=f"version {new.version}",
        )
    )
    return TreeDiff(
        hash_changed=before.hash != after.hash,
        nodes_added=sorted(set(new_nodes) - set(old_nodes)),
        nodes_removed=sorted(set(old_nodes) - set(new_nodes)),
        nodes_changed=sorted(
            n for n in set(old_nodes) & set(new_nodes) if old_nodes[n] != new_nodes[n]
        ),
        pins_changed=pins,
        unified=unified,
    )

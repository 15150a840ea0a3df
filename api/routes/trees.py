"""Trees: create from YAML/JSON, immutable versions, publish, diff, soft delete."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api import trees
from api.db.models import TreeRecord, TreeVersionRecord
from api.deps import AuditDep, ServicesDep, SessionDep
from api.rbac import Access, Permission, requires
from api.routes.common import RESPONSES, tenant_settings_of
from api.schedule_publish import follow_publish
from workflows.limits import MAX_SOURCE_BYTES, MAX_VERSION_NUMBER
from workflows.spec import TREE_NAME_PATTERN

router = APIRouter(prefix="/v1/tenants/{tenant_id}/trees", tags=["trees"], responses=RESPONSES)
TreeName = Annotated[str, Path(pattern=TREE_NAME_PATTERN, examples=["support-triage"])]
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION_NUMBER)]

EXAMPLE_SOURCE = """name: hello
start: greet
nodes:
  greet:
    kind: tool
    tool: text_response@^1
    args: {text: "Hello!"}
"""


class TreeSource(BaseModel):
    """A tree as YAML or JSON text (`source`), or as a JSON object (`spec`)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"source": EXAMPLE_SOURCE}]}
    )

    source: str | None = Field(default=None, max_length=MAX_SOURCE_BYTES)
    spec: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> TreeSource:
        if (self.source is None) == (self.spec is None):
            raise ValueError("give exactly one of `source` (YAML/JSON text) or `spec` (object)")
        return self

    def text(self) -> str:
        if self.source is not None:
            return self.source
        return json.dumps(self.spec, indent=2, sort_keys=False)


class VersionOut(BaseModel):
    version: int
    hash: str = Field(description="sha256 of the tree's meaning; equal hashes run the same way.")
    pins: dict[str, str] = Field(description="Node id -> exact activity, e.g. summarize@1.0.0.")
    warnings: list[str] = Field(default_factory=list)
    created_by: str
    created_at: datetime
    source: str | None = None

    @classmethod
    def of(cls, record: TreeVersionRecord, *, with_source: bool = False) -> VersionOut:
        compiled = trees.compiled_of(record)
        return cls(
            version=record.version,
            hash=record.hash,
            pins=compiled.pins(),
            warnings=list(compiled.warnings),
            created_by=record.created_by,
            created_at=record.created_at,
            source=record.source if with_source else None,
        )


class TreeOut(BaseModel):
    name: str
    latest_version: int
    published_version: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, tree: TreeRecord) -> TreeOut:
        return cls(
            name=tree.name,
            latest_version=tree.latest_version,
            published_version=tree.published_version,
            created_by=tree.created_by,
            created_at=tree.created_at,
            updated_at=tree.updated_at,
        )


class TreeCreated(BaseModel):
    tree: TreeOut
    version: VersionOut


class TreeList(BaseModel):
    trees: list[TreeOut]


class VersionList(BaseModel):
    versions: list[VersionOut]


class Publish(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=MAX_VERSION_NUMBER, examples=[2])


class DiffOut(BaseModel):
    from_version: int
    to_version: int
    hash_changed: bool
    nodes_added: list[str]
    nodes_removed: list[str]
    nodes_changed: list[str]
    pins_changed: dict[str, dict[str, str | None]]
    unified_diff: str


@router.post("", status_code=201)
async def create_tree(
    body: TreeSource,
    access: Annotated[Access, requires(Permission.TREES_WRITE)],
    session: SessionDep,
    services: ServicesDep,
    audit: AuditDep,
) -> TreeCreated:
    """Compile and store a new tree as version 1 (422 lists every problem with its path)."""
    assert access.tenant_id is not None
    settings = await tenant_settings_of(services, access)
    tree, version = await trees.create_tree(
        session, access.tenant_id, access.actor.subject, body.text(), services.registry, settings
    )
    audit.target(tree.name)
    audit.detail(version=version.version, hash=version.hash)
    return TreeCreated(tree=TreeOut.of(tree), version=VersionOut.of(version))


class CompileOut(BaseModel):
    """A tree that compiles: what it would pin and warn about (nothing is stored)."""

    hash: str = Field(description="sha256 of the tree's meaning.")
    pins: dict[str, str]
    warnings: list[str]


@router.post("/compile")
async def compile_tree(
    body: TreeSource,
    access: Annotated[Access, requires(Permission.TREES_READ)],
    session: SessionDep,
    services: ServicesDep,
) -> CompileOut:
    """Check a tree against the tenant's tools without storing it (the Studio's live
    checklist): **422** lists every problem as `body.source.nodes.<id>...`."""
    assert access.tenant_id is not None
    settings = await tenant_settings_of(services, access)
    _spec, compiled = await trees.compile_source(
        session, access.tenant_id, body.text(), services.registry, settings
    )
    return CompileOut(hash=compiled.hash, pins=compiled.pins(), warnings=list(compiled.warnings))


@router.get("")
async def list_trees(
    access: Annotated[Access, requires(Permission.TREES_READ)], session: SessionDep
) -> TreeList:
    assert access.tenant_id is not None
    return TreeList(
        trees=[TreeOut.of(t) for t in await trees.list_trees(session, access.tenant_id)]
    )


@router.get("/{name}")
async def get_tree(
    name: TreeName,
    access: Annotated[Access, requires(Permission.TREES_READ)],
    session: SessionDep,
) -> TreeOut:
    assert access.tenant_id is not None
    return TreeOut.of(await trees.get_tree(session, access.tenant_id, name))


@router.delete("/{name}", status_code=204)
async def delete_tree(
    name: TreeName,
    access: Annotated[Access, requires(Permission.TREES_DELETE)],
    session: SessionDep,
    services: ServicesDep,
    audit: AuditDep,
) -> Response:
    """Soft delete: the tree disappears from lists; its versions and runs are kept."""
    assert access.tenant_id is not None
    tree = await trees.get_tree(session, access.tenant_id, name)
    await trees.soft_delete(session, tree, access.actor.subject)
    services.runs.forget_tree(access.tenant_id, name)
    audit.target(name)
    return Response(status_code=204)


@router.post("/{name}/versions", status_code=201)
async def add_version(
    name: TreeName,
    body: TreeSource,
    response: Response,
    access: Annotated[Access, requires(Permission.TREES_WRITE)],
    session: SessionDep,
    services: ServicesDep,
    audit: AuditDep,
) -> VersionOut:
    """A new immutable version (200 with the latest one if nothing changed)."""
    assert access.tenant_id is not None
    settings = await tenant_settings_of(services, access)
    tree = await trees.get_tree(session, access.tenant_id, name)
    version, created = await trees.add_version(
        session, tree, access.actor.subject, body.text(), services.registry, settings
    )
    if not created:
        response.status_code = 200
    services.runs.forget_tree(access.tenant_id, name)
    audit.target(name)
    audit.detail(version=version.version, created=created)
    return VersionOut.of(version)


@router.get("/{name}/versions")
async def list_versions(
    name: TreeName,
    access: Annotated[Access, requires(Permission.TREES_READ)],
    session: SessionDep,
) -> VersionList:
    assert access.tenant_id is not None
    tree = await trees.get_tree(session, access.tenant_id, name)
    found = [await trees.get_version(session, tree, n) for n in range(1, tree.latest_version + 1)]
    return VersionList(versions=[VersionOut.of(v) for v in found])


@router.get("/{name}/versions/{version}")
async def get_version(
    name: TreeName,
    version: VersionNumber,
    access: Annotated[Access, requires(Permission.TREES_READ)],
    session: SessionDep,
) -> VersionOut:
    """One version with its source as written."""
    assert access.tenant_id is not None
    tree = await trees.get_tree(session, access.tenant_id, name)
    return VersionOut.of(await trees.get_version(session, tree, version), with_source=True)


@router.post("/{name}/publish")
async def publish_tree(
    name: TreeName,
    body: Publish,
    access: Annotated[Access, requires(Permission.TREES_PUBLISH)],
    session: SessionDep,
    services: ServicesDep,
    audit: AuditDep,
) -> TreeOut:
    """Make a version the one runs use when they name no version (other API replicas
    follow within a second) and the one the tree's `published` schedules run."""
    assert access.tenant_id is not None
    tree = await trees.get_tree(session, access.tenant_id, name)
    await trees.publish(session, tree, body.version)
    services.runs.forget_tree(access.tenant_id, name)
    published = TreeOut.of(tree)
    schedules = await follow_publish(
        services.schedules,
        session,
        services.temporal.client,
        access.tenant_id,
        tree,
        settings=await tenant_settings_of(services, access),
        flags=services.flags,
        actor=access.actor.subject,
    )
    audit.target(name)
    audit.detail(version=body.version, **{f"schedules_{k}": v for k, v in schedules.items() if v})
    return published


@router.get("/{name}/diff")
async def diff_versions(
    name: TreeName,
    access: Annotated[Access, requires(Permission.TREES_READ)],
    session: SessionDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION_NUMBER)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_VERSION_NUMBER)],
) -> DiffOut:
    """What changed between two versions: nodes, pinned tools, meaning hash and text."""
    assert access.tenant_id is not None
    tree = await trees.get_tree(session, access.tenant_id, name)
    old = await trees.get_version(session, tree, from_version)
    new = await trees.get_version(session, tree, to_version)
    found = trees.diff(old, new)
    return DiffOut(
        from_version=from_version,
        to_version=to_version,
        hash_changed=found.hash_changed,
        nodes_added=found.nodes_added,
        nodes_removed=found.nodes_removed,
        nodes_changed=found.nodes_changed,
        pins_changed=found.pins_changed,
        unified_diff=found.unified,
    )

"""Trees: create from YAML/JSON, immutable versions, publish, diff, soft delete."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api import trees
from api.db.models import TreeRecord, TreeVersionRecord
from api.rbac import Permission
from api.routes.common import RESPONSES, RowOut, TenantScope, strict_body, tenant_scope
from api.schedule_publish import follow_publish
from workflows.limits import MAX_SOURCE_BYTES, MAX_VERSION_NUMBER
from workflows.spec import TREE_NAME_PATTERN

router = APIRouter(prefix="/v1/tenants/{tenant_id}/trees", tags=["trees"], responses=RESPONSES)
TreeName = Annotated[str, Path(pattern=TREE_NAME_PATTERN, examples=["support-triage"])]
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION_NUMBER)]
TreesRead = Annotated[TenantScope, tenant_scope(Permission.TREES_READ)]
TreesWrite = Annotated[TenantScope, tenant_scope(Permission.TREES_WRITE)]

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

    model_config = strict_body({"source": EXAMPLE_SOURCE})

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


class TreeOut(RowOut):
    name: str
    latest_version: int
    published_version: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime


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


async def create_from(call: TenantScope, source: str) -> tuple[TreeRecord, TreeVersionRecord]:
    """Store ``source`` as a new tree of the caller's tenant, compiled against its tools and
    settings (version 1)."""
    settings = await call.tenant_settings()
    tree, version = await trees.create_tree(
        call.session, call.tenant_id, call.actor, source, call.services.registry, settings
    )
    return tree, version


@router.post("", status_code=201)
async def create_tree(body: TreeSource, call: TreesWrite) -> TreeCreated:
    """Compile and store a new tree as version 1 (422 lists every problem with its path)."""
    tree, version = await create_from(call, body.text())
    call.audit.target(tree.name)
    call.audit.detail(version=version.version, hash=version.hash)
    return TreeCreated(tree=TreeOut.of(tree), version=VersionOut.of(version))


class CompileOut(BaseModel):
    """A tree that compiles: what it would pin and warn about (nothing is stored)."""

    hash: str = Field(description="sha256 of the tree's meaning.")
    pins: dict[str, str]
    warnings: list[str]


@router.post("/compile")
async def compile_tree(body: TreeSource, call: TreesRead) -> CompileOut:
    """Check a tree against the tenant's tools without storing it (the Studio's live
    checklist): **422** lists every problem as `body.source.nodes.<id>...`."""
    settings = await call.tenant_settings()
    _spec, compiled = await trees.compile_source(
        call.session, call.tenant_id, body.text(), call.services.registry, settings
    )
    return CompileOut(hash=compiled.hash, pins=compiled.pins(), warnings=list(compiled.warnings))


@router.get("")
async def list_trees(call: TreesRead) -> TreeList:
    return TreeList(
        trees=[TreeOut.of(t) for t in await trees.list_trees(call.session, call.tenant_id)]
    )


@router.get("/{name}")
async def get_tree(name: TreeName, call: TreesRead) -> TreeOut:
    return TreeOut.of(await trees.get_tree(call.session, call.tenant_id, name))


@router.delete("/{name}", status_code=204)
async def delete_tree(
    name: TreeName, call: Annotated[TenantScope, tenant_scope(Permission.TREES_DELETE)]
) -> Response:
    """Soft delete: the tree disappears from lists; its versions and runs are kept."""
    tree = await trees.get_tree(call.session, call.tenant_id, name)
    await trees.soft_delete(call.session, tree, call.actor)
    call.services.runs.forget_tree(call.tenant_id, name)
    call.audit.target(name)
    return Response(status_code=204)


@router.post("/{name}/versions", status_code=201)
async def add_version(
    name: TreeName, body: TreeSource, response: Response, call: TreesWrite
) -> VersionOut:
    """A new immutable version (200 with the latest one if nothing changed)."""
    settings = await call.tenant_settings()
    tree = await trees.get_tree(call.session, call.tenant_id, name)
    version, created = await trees.add_version(
        call.session, tree, call.actor, body.text(), call.services.registry, settings
    )
    if not created:
        response.status_code = 200
    call.services.runs.forget_tree(call.tenant_id, name)
    call.audit.target(name)
    call.audit.detail(version=version.version, created=created)
    return VersionOut.of(version)


@router.get("/{name}/versions")
async def list_versions(name: TreeName, call: TreesRead) -> VersionList:
    tree = await trees.get_tree(call.session, call.tenant_id, name)
    found = [
        await trees.get_version(call.session, tree, n) for n in range(1, tree.latest_version + 1)
    ]
    return VersionList(versions=[VersionOut.of(v) for v in found])


@router.get("/{name}/versions/{version}")
async def get_version(name: TreeName, version: VersionNumber, call: TreesRead) -> VersionOut:
    """One version with its source as written."""
    tree = await trees.get_tree(call.session, call.tenant_id, name)
    return VersionOut.of(await trees.get_version(call.session, tree, version), with_source=True)


@router.post("/{name}/publish")
async def publish_tree(
    name: TreeName,
    body: Publish,
    call: Annotated[TenantScope, tenant_scope(Permission.TREES_PUBLISH)],
) -> TreeOut:
    """Make a version the one runs use when they name no version (other API replicas
    follow within a second) and the one the tree's `published` schedules run."""
    tree = await trees.get_tree(call.session, call.tenant_id, name)
    await trees.publish(call.session, tree, body.version)
    call.services.runs.forget_tree(call.tenant_id, name)
    published = TreeOut.of(tree)
    schedules = await follow_publish(
        call.services.schedules,
        call.session,
        call.services.temporal.client,
        call.tenant_id,
        tree,
        settings=await call.tenant_settings(),
        flags=call.services.flags,
        actor=call.actor,
    )
    call.audit.target(name)
    call.audit.detail(
        version=body.version, **{f"schedules_{k}": v for k, v in schedules.items() if v}
    )
    return published


@router.get("/{name}/diff")
async def diff_versions(
    name: TreeName,
    call: TreesRead,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION_NUMBER)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_VERSION_NUMBER)],
) -> DiffOut:
    """What changed between two versions: nodes, pinned tools, meaning hash and text."""
    tree = await trees.get_tree(call.session, call.tenant_id, name)
    old = await trees.get_version(call.session, tree, from_version)
    new = await trees.get_version(call.session, tree, to_version)
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

"""Templates: the built-in trees, and instantiating one into a tenant's tree."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

import templates
from api import trees
from api.problems import FieldError, invalid, not_found
from api.rbac import Access, Permission, requires
from api.routes.common import RESPONSES, TenantScope, strict_body, tenant_scope
from api.routes.trees import TreeCreated, TreeOut, VersionOut, create_from
from workflows.limits import MAX_PASSES
from workflows.spec import TREE_NAME_PATTERN

router = APIRouter(
    prefix="/v1/tenants/{tenant_id}/templates", tags=["templates"], responses=RESPONSES
)
TemplateName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class SampleOut(BaseModel):
    name: str
    description: str
    inputs: dict[str, Any]


class TemplateOut(BaseModel):
    name: str
    description: str
    inputs: dict[str, Any] = Field(description="Declared inputs (name -> type, description).")
    samples: list[SampleOut]
    source: str


class TemplateList(BaseModel):
    templates: list[TemplateOut]


class Instantiate(BaseModel):
    """Parameters of a new tree made from a template."""

    model_config = strict_body({"tree_name": "my-triage", "input_defaults": {"customer": "friend"}})

    tree_name: str | None = Field(
        default=None, pattern=TREE_NAME_PATTERN, description="Default: the template's."
    )
    input_defaults: dict[str, Any] = Field(
        default_factory=dict, description="New default values for declared inputs."
    )
    max_passes: int | None = Field(default=None, ge=1, le=MAX_PASSES)
    publish: bool = Field(default=True, description="Publish version 1 right away.")


def _out(template: templates.Template) -> TemplateOut:
    data = yaml.safe_load(template.text)
    return TemplateOut(
        name=template.name,
        description=template.description,
        inputs=data.get("inputs") or {},
        samples=[
            SampleOut(name=s.name, description=s.description, inputs=s.inputs)
            for s in template.samples
        ],
        source=template.text,
    )


def _load(name: str) -> templates.Template:
    try:
        return templates.load(name)
    except templates.UnknownTemplate:
        raise not_found("template") from None


@router.get("")
async def list_templates(
    access: Annotated[Access, requires(Permission.TEMPLATES_READ)],
) -> TemplateList:
    return TemplateList(templates=[_out(t) for t in templates.all_templates()])


@router.get("/{name}")
async def get_template(
    name: TemplateName, access: Annotated[Access, requires(Permission.TEMPLATES_READ)]
) -> TemplateOut:
    return _out(_load(name))


@router.post("/{name}/instantiate", status_code=201)
async def instantiate(
    name: TemplateName,
    body: Instantiate,
    call: Annotated[TenantScope, tenant_scope(Permission.TEMPLATES_INSTANTIATE)],
) -> TreeCreated:
    """Create a tenant tree from a template, with new input defaults and name."""
    template = _load(name)
    data = yaml.safe_load(template.text)
    if body.tree_name:
        data["name"] = body.tree_name
    for input_name, value in body.input_defaults.items():
        declared = (data.get("inputs") or {}).get(input_name)
        if declared is None:
            raise invalid(
                f"template '{name}' has no input '{input_name}'",
                FieldError(field=f"body.input_defaults.{input_name}", message="unknown input"),
            )
        declared["default"] = value
        declared["required"] = False
    if body.max_passes is not None:
        data.setdefault("limits", {})["max_passes"] = body.max_passes
    source = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    tree, version = await create_from(call, source)
    if body.publish:
        await trees.publish(call.session, tree, version.version)
    call.audit.target(tree.name)
    call.audit.detail(template=name, version=version.version)
    return TreeCreated(tree=TreeOut.of(tree), version=VersionOut.of(version))

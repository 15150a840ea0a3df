"""The tool registry: every tool and version with schemas (the start of the marketplace)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from activities.sdk import ToolSpec
from api.deps import ServicesDep
from api.problems import not_found
from api.rbac import Access, Permission, requires
from api.routes.common import RESPONSES, tenant_settings_of

router = APIRouter(prefix="/v1/tenants/{tenant_id}/tools", tags=["tools"], responses=RESPONSES)
ToolName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]


class ToolVersionOut(BaseModel):
    version: str
    activity: str = Field(examples=["summarize@1.0.0"])
    description: str
    kind: str = Field(description="`tool`, or `decision` for router/agent activities.")
    deprecated: str | None = None
    tags: list[str]
    timeout_seconds: float
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


class ToolOut(BaseModel):
    name: str
    allowed: bool = Field(description="Whether this tenant's runs may use it.")
    latest: str
    versions: list[ToolVersionOut]


class ToolList(BaseModel):
    tools: list[ToolOut]


def _version(spec: ToolSpec) -> ToolVersionOut:
    return ToolVersionOut(
        version=str(spec.version),
        activity=spec.activity_name,
        description=spec.description,
        kind=spec.kind,
        deprecated=spec.deprecated,
        tags=list(spec.tags),
        timeout_seconds=spec.start_to_close_timeout.total_seconds(),
        input_schema=spec.input_schema(),
        output_schema=spec.output_schema(),
    )


async def _tools(services: ServicesDep, access: Access) -> list[ToolOut]:
    settings = await tenant_settings_of(services, access)
    registry = services.registry
    result = []
    for name in registry.names():
        specs = [registry.spec(name, v) for v in registry.versions(name)]
        result.append(
            ToolOut(
                name=name,
                allowed=specs[0].kind != "tool" or settings.allows_tool(name),
                latest=str(specs[-1].version),
                versions=[_version(s) for s in reversed(specs)],
            )
        )
    return result


@router.get("")
async def list_tools(
    access: Annotated[Access, requires(Permission.TOOLS_READ)], services: ServicesDep
) -> ToolList:
    """Every tool with each version's description, schemas and deprecation state."""
    return ToolList(tools=await _tools(services, access))


@router.get("/{name}")
async def get_tool(
    name: ToolName,
    access: Annotated[Access, requires(Permission.TOOLS_READ)],
    services: ServicesDep,
) -> ToolOut:
    for found in await _tools(services, access):
        if found.name == name:
            return found
    raise not_found("tool")

"""Tools: the registry and the tenant's declarative HTTP tools, with schemas and versions.

This is the start of the marketplace: every tool and version with its description,
input/output JSON Schema and deprecation state.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from activities.declarative.model import DeclarativeHttpTool, InvalidDeclarativeTool, tool_spec
from activities.declarative.store import UnknownDeclarativeTool, VersionExists, register
from activities.sdk import ToolSpec
from api.declarative import SessionToolStore
from api.deps import AuditDep, ServicesDep, SessionDep
from api.problems import PROBLEM_BASE, FieldError, ProblemError, not_found
from api.rbac import Access, Permission, requires
from api.routes.common import RESPONSES, tenant_settings_of
from api.trees import conflict

router = APIRouter(prefix="/v1/tenants/{tenant_id}/tools", tags=["tools"], responses=RESPONSES)
ToolName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
ToolVersion = Annotated[str, Path(pattern=r"^\d{1,6}\.\d{1,6}\.\d{1,6}$")]


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
    source: Literal["platform", "tenant"] = Field(
        description="`platform`: a Python tool every worker hosts; `tenant`: a declarative "
        "HTTP tool of this tenant."
    )
    allowed: bool = Field(description="Whether this tenant's runs may use it.")
    latest: str
    versions: list[ToolVersionOut]


class ToolList(BaseModel):
    tools: list[ToolOut]


class Deprecate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, max_length=500, examples=["use lookup@^2"])


EXAMPLE_HTTP_TOOL = {
    "name": "weather",
    "version": "1.0.0",
    "description": "Current weather for a city. Use it when the user asks about weather.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "minLength": 1}},
        "required": ["city"],
    },
    "request": {
        "method": "GET",
        "url": "https://api.example.com/weather",
        "query": {"q": "{city}"},
    },
}


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


async def _tools(services: ServicesDep, session: SessionDep, access: Access) -> list[ToolOut]:
    assert access.tenant_id is not None
    settings = await tenant_settings_of(services, access)
    registry = services.registry
    result = []
    for name in registry.names():
        specs = [registry.spec(name, v) for v in registry.versions(name)]
        result.append(
            ToolOut(
                name=name,
                source="platform",
                allowed=specs[0].kind != "tool" or settings.allows_tool(name),
                latest=str(specs[-1].version),
                versions=[_version(s) for s in reversed(specs)],
            )
        )
    by_name: dict[str, list[ToolSpec]] = {}
    for stored in await SessionToolStore(session).list(str(access.tenant_id)):
        by_name.setdefault(stored.tool.name, []).append(tool_spec(stored.tool))
    for name, specs in sorted(by_name.items()):
        result.append(
            ToolOut(
                name=name,
                source="tenant",
                allowed=settings.allows_tool(name),
                latest=str(specs[-1].version),
                versions=[_version(s) for s in reversed(specs)],
            )
        )
    return result


@router.get("")
async def list_tools(
    access: Annotated[Access, requires(Permission.TOOLS_READ)],
    services: ServicesDep,
    session: SessionDep,
) -> ToolList:
    """Every tool with each version's description, schemas and deprecation state."""
    return ToolList(tools=await _tools(services, session, access))


@router.get("/{name}")
async def get_tool(
    name: ToolName,
    access: Annotated[Access, requires(Permission.TOOLS_READ)],
    services: ServicesDep,
    session: SessionDep,
) -> ToolOut:
    for found in await _tools(services, session, access):
        if found.name == name:
            return found
    raise not_found("tool")


@router.post(
    "",
    status_code=201,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"example": EXAMPLE_HTTP_TOOL}}}
    },
)
async def register_http_tool(
    body: DeclarativeHttpTool,
    access: Annotated[Access, requires(Permission.TOOLS_WRITE)],
    services: ServicesDep,
    session: SessionDep,
    audit: AuditDep,
) -> ToolVersionOut:
    """Register a version of a declarative HTTP tool (immutable; a change is a new version).

    The URL's host must be in the platform's allow-list
    (`TREEFLOW_DECLARATIVE_HTTP_ALLOWED_HOSTS`); secrets are referenced by name.
    """
    assert access.tenant_id is not None
    store = SessionToolStore(session, access.actor.subject)
    try:
        stored = await register(
            store,
            str(access.tenant_id),
            body,
            allowed_hosts=services.settings.declarative_http_allowed_hosts,
            reserved_names=services.registry.names(),
        )
    except ValidationError as exc:
        raise ProblemError(
            422,
            "the tool definition is invalid",
            type_=PROBLEM_BASE + "invalid-tool",
            errors=[
                FieldError(field="body." + ".".join(str(p) for p in err["loc"]), message=err["msg"])
                for err in exc.errors(include_url=False, include_input=False)
            ],
        ) from None
    except VersionExists as exc:
        raise conflict(str(exc), "tool-version-exists") from None
    except InvalidDeclarativeTool as exc:
        raise ProblemError(
            422,
            "the tool definition is invalid",
            type_=PROBLEM_BASE + "invalid-tool",
            errors=[
                FieldError(field=f"body.{path}" if path else "body", message=message)
                for path, message in exc.problems
            ],
        ) from None
    except ValueError as exc:
        raise ProblemError(
            422,
            str(exc),
            type_=PROBLEM_BASE + "invalid-tool",
            errors=[FieldError(field="body", message=str(exc))],
        ) from None
    audit.target(stored.key)
    return _version(tool_spec(stored.tool))


@router.post("/{name}/versions/{version}/deprecate")
async def deprecate_http_tool(
    name: ToolName,
    version: ToolVersion,
    body: Deprecate,
    access: Annotated[Access, requires(Permission.TOOLS_WRITE)],
    session: SessionDep,
    audit: AuditDep,
) -> ToolVersionOut:
    """Mark a version deprecated: compilers warn, runs keep working."""
    assert access.tenant_id is not None
    try:
        stored = await SessionToolStore(session).deprecate(
            str(access.tenant_id), name, version, body.message
        )
    except UnknownDeclarativeTool:
        raise not_found("tool version") from None
    audit.target(stored.key)
    return _version(tool_spec(stored.tool))

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
from api.problems import PROBLEM_BASE, FieldError, ProblemError, conflict, not_found
from api.rbac import Permission
from api.routes.common import RESPONSES, TenantScope, tenant_scope

router = APIRouter(prefix="/v1/tenants/{tenant_id}/tools", tags=["tools"], responses=RESPONSES)
ToolName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
ToolVersion = Annotated[str, Path(pattern=r"^\d{1,6}\.\d{1,6}\.\d{1,6}$")]
ReadTools = Annotated[TenantScope, tenant_scope(Permission.TOOLS_READ)]
WriteTools = Annotated[TenantScope, tenant_scope(Permission.TOOLS_WRITE)]


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


def _tool_out(name: str, source: str, allowed: bool, specs: list[ToolSpec]) -> ToolOut:
    return ToolOut(
        name=name,
        source=source,
        allowed=allowed,
        latest=str(specs[-1].version),
        versions=[_version(s) for s in reversed(specs)],
    )


def _invalid_tool(detail: str, errors: list[FieldError]) -> ProblemError:
    return ProblemError(422, detail, type_=PROBLEM_BASE + "invalid-tool", errors=errors)


async def _tools(call: TenantScope) -> list[ToolOut]:
    settings = await call.tenant_settings()
    registry = call.services.registry
    result = []
    for name in registry.names():
        specs = [registry.spec(name, v) for v in registry.versions(name)]
        allowed = specs[0].kind != "tool" or settings.allows_tool(name)
        result.append(_tool_out(name, "platform", allowed, specs))
    by_name: dict[str, list[ToolSpec]] = {}
    for stored in await SessionToolStore(call.session).list(str(call.tenant_id)):
        by_name.setdefault(stored.tool.name, []).append(tool_spec(stored.tool))
    for name, specs in sorted(by_name.items()):
        result.append(_tool_out(name, "tenant", settings.allows_tool(name), specs))
    return result


@router.get("")
async def list_tools(call: ReadTools) -> ToolList:
    """Every tool with each version's description, schemas and deprecation state."""
    return ToolList(tools=await _tools(call))


@router.get("/{name}")
async def get_tool(name: ToolName, call: ReadTools) -> ToolOut:
    for found in await _tools(call):
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
async def register_http_tool(body: DeclarativeHttpTool, call: WriteTools) -> ToolVersionOut:
    """Register a version of a declarative HTTP tool (immutable; a change is a new version).

    The URL's host must be in the platform's allow-list
    (`TREEFLOW_DECLARATIVE_HTTP_ALLOWED_HOSTS`); secrets are referenced by name.
    """
    store = SessionToolStore(call.session, call.actor)
    try:
        stored = await register(
            store,
            str(call.tenant_id),
            body,
            allowed_hosts=call.services.settings.declarative_http_allowed_hosts,
            reserved_names=call.services.registry.names(),
        )
    except ValidationError as exc:
        raise _invalid_tool(
            "the tool definition is invalid",
            [
                FieldError(field="body." + ".".join(str(p) for p in err["loc"]), message=err["msg"])
                for err in exc.errors(include_url=False, include_input=False)
            ],
        ) from None
    except VersionExists as exc:
        raise conflict(str(exc), "tool-version-exists") from None
    except InvalidDeclarativeTool as exc:
        raise _invalid_tool(
            "the tool definition is invalid",
            [
                FieldError(field=f"body.{path}" if path else "body", message=message)
                for path, message in exc.problems
            ],
        ) from None
    except ValueError as exc:
        raise _invalid_tool(str(exc), [FieldError(field="body", message=str(exc))]) from None
    call.audit.target(stored.key)
    return _version(tool_spec(stored.tool))


@router.post("/{name}/versions/{version}/deprecate")
async def deprecate_http_tool(
    name: ToolName, version: ToolVersion, body: Deprecate, call: WriteTools
) -> ToolVersionOut:
    """Mark a version deprecated: compilers warn, runs keep working."""
    try:
        stored = await SessionToolStore(call.session).deprecate(
            str(call.tenant_id), name, version, body.message
        )
    except UnknownDeclarativeTool:
        raise not_found("tool version") from None
    call.audit.target(stored.key)
    return _version(tool_spec(stored.tool))

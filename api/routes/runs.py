"""Runs: start (idempotently), read, list, answer input, cancel."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AuditDep, ServicesDep, SessionDep, TemporalDep
from api.paging import MAX_PAGE_TOKEN_CHARS
from api.rbac import Access, Permission, requires
from api.routes.common import RESPONSES, tenant_settings_of
from api.run_policy import StartRequest
from api.runs import RunPage, RunView
from api.schedule_models import SCHEDULE_NAME_PATTERN
from api.services import Services
from workflows.limits import MAX_VERSION_NUMBER
from workflows.run_models import UserInput

router = APIRouter(prefix="/v1/tenants/{tenant_id}/runs", tags=["runs"], responses=RESPONSES)
KEY_PATTERN = r"^[A-Za-z0-9._:@-]{1,200}$"
RunKey = Annotated[str, Path(pattern=KEY_PATTERN, examples=["order-42"])]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="Required. The same key always returns the same run; it becomes the run id.",
        examples=["order-42"],
    ),
]


class StartRun(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"tree": "support-triage", "inputs": {"question": "I was charged twice"}}]
        },
    )

    tree: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")
    version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_VERSION_NUMBER,
        description="Default: the published version, else the latest.",
    )
    inputs: dict[str, Any] = Field(default_factory=dict)


class InputIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"node": "review", "value": "approve"}]}
    )

    value: Any = Field(description="The answer (checked against the node's choices).")
    node: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$",
        description="Which input node; optional when only one is waiting.",
    )


class InputAccepted(BaseModel):
    node: str


@router.post("", status_code=201)
async def start_run(
    body: StartRun,
    idempotency_key: IdempotencyKey,
    response: Response,
    access: Annotated[Access, requires(Permission.RUNS_START)],
    session: SessionDep,
    services: ServicesDep,
    client: TemporalDep,
    audit: AuditDep,
) -> RunView:
    """Start a run of a tree; repeating the call with the same key returns the same run (200)."""
    assert access.tenant_id is not None
    settings = await tenant_settings_of(services, access)
    request = StartRequest(
        tenant_id=access.tenant_id,
        settings=settings,
        actor=access.actor.subject,
        key=idempotency_key,
        tree_name=body.tree,
        version=body.version,
        inputs=body.inputs,
        flags=services.flags,
    )
    view, created = await services.runs.start(session, client, request)
    if not created:
        response.status_code = 200
    response.headers["Location"] = view.links.self
    audit.target(view.id)
    audit.detail(tree=view.tree.name, version=view.tree.version, created=created)
    return view


@router.get("")
async def list_runs(
    access: Annotated[Access, requires(Permission.RUNS_READ)],
    services: ServicesDep,
    client: TemporalDep,
    tree: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")] = None,
    status: Annotated[
        Literal[
            "running",
            "waiting_input",
            "completed",
            "failed",
            "cancelled",
            "terminated",
            "timed_out",
        ]
        | None,
        Query(),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    schedule: Annotated[
        str | None,
        Query(pattern=SCHEDULE_NAME_PATTERN, description="Only runs this schedule started."),
    ] = None,
    page_token: Annotated[
        str | None,
        Query(
            max_length=MAX_PAGE_TOKEN_CHARS,
            description="`next_page_token` of the previous page, unchanged; it is valid only "
            "with the same filters in the same tenant.",
        ),
    ] = None,
) -> RunPage:
    """This tenant's runs from Temporal visibility, newest first (eventually consistent)."""
    assert access.tenant_id is not None
    return await services.runs.list(
        client,
        access.tenant_id,
        tree=tree,
        status=status,
        limit=limit,
        schedule=schedule,
        page_token=page_token,
        page_tokens=services.page_tokens,
    )


@router.get("/{key}", response_model=RunView)
async def get_run(
    key: RunKey,
    access: Annotated[Access, requires(Permission.RUNS_READ)],
    request: Request,
) -> Response:
    """Status, current node, path so far, waiting inputs, and the result once closed."""
    assert access.tenant_id is not None
    services: Services = request.app.state.services  # the hottest route: one dependency less
    body = await services.runs.get_json(
        services.sessions, services.temporal.client, access.tenant_id, key
    )
    return Response(content=body, media_type="application/json")


@router.post("/{key}/input")
async def submit_input(
    key: RunKey,
    body: InputIn,
    access: Annotated[Access, requires(Permission.RUNS_SIGNAL)],
    session: SessionDep,
    services: ServicesDep,
    client: TemporalDep,
    audit: AuditDep,
) -> InputAccepted:
    """Answer a waiting input node (409 with the reason if the run does not accept it)."""
    assert access.tenant_id is not None
    node = await services.runs.submit_input(
        session, client, access.tenant_id, key, UserInput(value=body.value, node=body.node)
    )
    audit.target(key)
    audit.detail(node=node)
    return InputAccepted(node=node)


@router.post("/{key}/cancel", status_code=202)
async def cancel_run(
    key: RunKey,
    access: Annotated[Access, requires(Permission.RUNS_CANCEL)],
    session: SessionDep,
    services: ServicesDep,
    client: TemporalDep,
    audit: AuditDep,
) -> Response:
    """Request cancellation; running tools are cancelled at their next heartbeat."""
    assert access.tenant_id is not None
    await services.runs.cancel(session, client, access.tenant_id, key)
    audit.target(key)
    return Response(status_code=202)

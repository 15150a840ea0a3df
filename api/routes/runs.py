"""Runs: start (idempotently), read, list, steps, follow events, answer input, cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from api.audit import AuditNote
from api.db.models import RunRecord
from api.paging import MAX_PAGE_TOKEN_CHARS
from api.problems import FieldError, ProblemError, invalid, not_found
from api.rbac import Access, Permission, requires
from api.reruns import RerunAsk, VersionChoice
from api.routes.common import RESPONSES, TenantCall, strict_body, tenant_call
from api.run_policy import StartRequest, find_run
from api.run_streams import EventStreamResponse, sse_body, stream_slots
from api.runs import RunPage, RunView
from api.schedule_models import SCHEDULE_NAME_PATTERN
from api.services import Services
from temporal_client.run_events import follow_events, read_steps
from temporal_client.step_results import NoStepResult, StepNotFound, read_step_result
from workflows.limits import MAX_VERSION_NUMBER
from workflows.run_models import UserInput
from workflows.spec import NODE_ID, TREE_NAME_PATTERN
from workflows.trail import StepRecord

router = APIRouter(prefix="/v1/tenants/{tenant_id}/runs", tags=["runs"], responses=RESPONSES)
KEY_PATTERN = r"^[A-Za-z0-9._:@-]{1,200}$"
RunKey = Annotated[str, Path(pattern=KEY_PATTERN, examples=["order-42"])]
Starting = Annotated[TenantCall, tenant_call(Permission.RUNS_START)]
Reading = Annotated[TenantCall, tenant_call(Permission.RUNS_READ)]
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
    model_config = strict_body(
        {"tree": "support-triage", "inputs": {"question": "I was charged twice"}}
    )

    tree: str = Field(pattern=TREE_NAME_PATTERN)
    version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_VERSION_NUMBER,
        description="Default: the published version, else the latest.",
    )
    inputs: dict[str, Any] = Field(default_factory=dict)


class RerunIn(BaseModel):
    model_config = strict_body(
        {"from_node": "charge", "inputs": {"amount": 12}, "version": "pinned"}
    )

    from_node: str | None = Field(
        default=None,
        pattern=NODE_ID,
        description="Node to run again from; default: the node the run failed at.",
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Overrides merged over the run's inputs."
    )
    version: VersionChoice = Field(
        default="pinned",
        description="`pinned`: the run's exact tree version; `published`: the published one.",
    )


class InputIn(BaseModel):
    model_config = strict_body({"node": "review", "value": "approve"})

    value: Any = Field(description="The answer (checked against the node's choices).")
    node: str | None = Field(
        default=None,
        pattern=NODE_ID,
        description="Which input node; optional when only one is waiting.",
    )


class InputAccepted(BaseModel):
    node: str


def _answer_start(view: RunView, created: bool, response: Response, audit: AuditNote) -> None:
    """An idempotent start's answer: 201 for a new run, 200 when the key already named one;
    its Location and audit target either way."""
    if not created:
        response.status_code = 200
    response.headers["Location"] = view.links.self
    audit.target(view.id)


@router.post("", status_code=201)
async def start_run(
    body: StartRun,
    idempotency_key: IdempotencyKey,
    response: Response,
    call: Starting,
) -> RunView:
    """Start a run of a tree; repeating the call with the same key returns the same run (200)."""
    request = StartRequest(
        tenant_id=call.tenant_id,
        settings=await call.tenant_settings(),
        actor=call.actor,
        key=idempotency_key,
        tree_name=body.tree,
        version=body.version,
        inputs=body.inputs,
        flags=call.services.flags,
    )
    view, created = await call.services.runs.start(call.session, call.client, request)
    _answer_start(view, created, response, call.audit)
    call.audit.detail(tree=view.tree.name, version=view.tree.version, created=created)
    return view


@router.get("")
async def list_runs(
    call: Reading,
    tree: Annotated[str | None, Query(pattern=TREE_NAME_PATTERN)] = None,
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
    started_after: Annotated[
        AwareDatetime | None,
        Query(description="Only runs started at or after this time (ISO 8601 with offset)."),
    ] = None,
    started_before: Annotated[
        AwareDatetime | None,
        Query(description="Only runs started before this time (ISO 8601 with offset)."),
    ] = None,
) -> RunPage:
    """This tenant's runs from Temporal visibility, newest first (eventually consistent)."""
    started_after = _in_visibility_range("started_after", started_after)
    started_before = _in_visibility_range("started_before", started_before)
    if started_after is not None and started_before is not None and started_after >= started_before:
        raise _time_filter_problem("started_before", "must be after started_after")
    return await call.services.runs.list(
        call.client,
        call.tenant_id,
        tree=tree,
        status=status,
        limit=limit,
        schedule=schedule,
        page_token=page_token,
        page_tokens=call.services.page_tokens,
        started=(started_after, started_before),
    )


EARLIEST_START = datetime(1970, 1, 1, tzinfo=UTC)
"""No run starts before the Unix epoch; earlier filter times are refused, not sent."""


def _time_filter_problem(field: str, message: str) -> ProblemError:
    return invalid(
        "the time filter is not usable", FieldError(field=f"query.{field}", message=message)
    )


def _in_visibility_range(field: str, moment: datetime | None) -> datetime | None:
    """`moment` in UTC, or a 422 naming the field when it falls outside 1970-9999 in UTC
    (a year-1 time with a positive offset has no UTC year at all)."""
    if moment is None:
        return None
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise _time_filter_problem(field, "must be between 1970 and 9999 in UTC") from None
    if utc < EARLIEST_START:
        raise _time_filter_problem(field, "must be between 1970 and 9999 in UTC")
    return utc


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
    body = await services.reruns.with_reruns(body, services.temporal.client, access.tenant_id, key)
    return Response(content=body, media_type="application/json")


@router.post("/{key}/rerun", status_code=201)
async def rerun(
    key: RunKey,
    body: RerunIn,
    idempotency_key: IdempotencyKey,
    response: Response,
    call: Starting,
) -> RunView:
    """Start a new run that reuses this closed run's recorded results before `from_node`
    (their tools are not called again); the same key again returns the same re-run (200)."""
    ask = RerunAsk(
        tenant_id=call.tenant_id,
        settings=await call.tenant_settings(),
        actor=call.actor,
        key=idempotency_key,
        origin_key=key,
        from_node=body.from_node,
        inputs=body.inputs,
        version=body.version,
        flags=call.services.flags,
    )
    view, created = await call.services.reruns.start(call.session, call.client, ask)
    _answer_start(view, created, response, call.audit)
    call.audit.detail(rerun_of=key, from_node=view.rerun_of.from_node if view.rerun_of else None)
    return view


async def _record(call: TenantCall, key: str) -> RunRecord:
    """The caller's tenant's run ``key`` (404 if there is none)."""
    record = await find_run(call.session, call.tenant_id, key)
    if record is None:
        raise not_found("run")
    return record


def _no_worker() -> ProblemError:
    return ProblemError(
        503, "no worker answered for this run; retry shortly", headers={"Retry-After": "2"}
    )


class RunSteps(BaseModel):
    steps: list[StepRecord]


LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        pattern=r"^[0-9]{1,15}$",
        description="The last event id the client saw: the stream resumes after it.",
    ),
]


@router.get("/{key}/steps")
async def run_steps(key: RunKey, call: Reading) -> RunSteps:
    """One record per visited node: kind, tool or strategy, times, attempts, outcome,
    the branch a decision took and why, arguments and result (redacted, truncated)."""
    record = await _record(call, key)
    stored = (record.final_state or {}).get("step_records")
    if stored:
        return RunSteps(steps=[StepRecord.model_validate(step) for step in stored])
    try:
        return RunSteps(steps=await read_steps(call.client, record.workflow_id))
    except (RPCError, WorkflowQueryFailedError):
        raise _no_worker() from None


class StepResult(BaseModel):
    """One step's whole result (step records and events keep a preview of 2048 bytes)."""

    step: int = Field(description="The step's id (its step.started event).")
    node: str
    activity: str | None = None
    result: Any = Field(description="The tool's result, redacted; never truncated.")


@router.get("/{key}/steps/{step}/result")
async def run_step_result(
    key: RunKey,
    step: Annotated[int, Path(ge=1, le=10**15, description="A step record's `id`.")],
    call: Reading,
) -> StepResult:
    """The whole result of one completed tool step, read from the run's history (its
    citations' objects, a chart's image), where the step record holds a bounded preview."""
    record = await _record(call, key)
    workflow_id = record.workflow_id
    await call.session.rollback()
    try:
        found, result = await read_step_result(call.client, workflow_id, step)
    except StepNotFound:
        raise not_found("step") from None
    except NoStepResult:
        raise ProblemError(
            404, f"step {step} has no tool result (not a completed tool step)"
        ) from None
    except (RPCError, WorkflowQueryFailedError):
        raise _no_worker() from None
    return StepResult(step=found.id, node=found.node, activity=found.activity, result=result)


@router.get(
    "/{key}/events",
    response_class=EventStreamResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "Server-sent events: `id:` the event ordinal, `event:` its type, "
            '`data:` the event as JSON (docs/api.md, "Run events").',
        }
    },
)
async def run_events(
    key: RunKey,
    call: Reading,
    request: Request,
    last_event_id: LastEventId = None,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=10**15,
            description="Resume after this id (for clients that cannot "
            "set Last-Event-ID; the header wins).",
        ),
    ] = None,
) -> EventStreamResponse:
    """Follow a run: every step, decision, input and the end, as they happen."""
    record = await _record(call, key)
    workflow_id, first_run_id = record.workflow_id, record.first_run_id or None
    await call.session.rollback()  # hold no database connection while the stream is open
    settings = request.app.state.services.settings
    resume = int(last_event_id) if last_event_id is not None else (after or 0)
    release = stream_slots(request.app, settings.event_streams_per_tenant).acquire(
        str(call.tenant_id)
    )
    events = follow_events(
        call.client,
        workflow_id,
        after=resume,
        run_id=first_run_id,
        idle_every=settings.event_stream_keepalive_seconds,
    )
    body = sse_body(
        events,
        keepalive_seconds=settings.event_stream_keepalive_seconds,
        max_seconds=settings.event_stream_max_seconds,
    )
    return EventStreamResponse(body, on_close=release)


@router.post("/{key}/input")
async def submit_input(
    key: RunKey,
    body: InputIn,
    call: Annotated[TenantCall, tenant_call(Permission.RUNS_SIGNAL)],
) -> InputAccepted:
    """Answer a waiting input node (409 with the reason if the run does not accept it)."""
    node = await call.services.runs.submit_input(
        call.session, call.client, call.tenant_id, key, UserInput(value=body.value, node=body.node)
    )
    call.audit.target(key)
    call.audit.detail(node=node)
    return InputAccepted(node=node)


@router.post("/{key}/cancel", status_code=202)
async def cancel_run(
    key: RunKey,
    call: Annotated[TenantCall, tenant_call(Permission.RUNS_CANCEL)],
) -> Response:
    """Request cancellation; running tools are cancelled at their next heartbeat."""
    await call.services.runs.cancel(call.session, call.client, call.tenant_id, key)
    call.audit.target(key)
    return Response(status_code=202)

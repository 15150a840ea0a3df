"""Schedules: run a tree on a cron or interval spec (Temporal Schedules), per tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from api.rbac import Permission
from api.routes.common import (
    RESPONSES,
    TenantCall,
    TenantScope,
    strict_body,
    tenant_call,
    tenant_scope,
)
from api.schedule_models import (
    MAX_CATCHUP_WINDOW_SECONDS,
    MAX_CRON_CHARS,
    MAX_INTERVAL_SECONDS,
    MIN_CATCHUP_WINDOW_SECONDS,
    MIN_INTERVAL_SECONDS,
    SCHEDULE_NAME_PATTERN,
    ScheduleDefinition,
    ScheduleList,
    ScheduleView,
    VersionPolicy,
)
from temporal_client.schedules import Overlap

router = APIRouter(
    prefix="/v1/tenants/{tenant_id}/schedules", tags=["schedules"], responses=RESPONSES
)
ScheduleName = Annotated[str, Path(pattern=SCHEDULE_NAME_PATTERN, examples=["nightly"])]
CONFLICT: dict[int | str, dict[str, Any]] = {409: RESPONSES[404] | {"description": "Conflict"}}


class ScheduleIn(ScheduleDefinition):
    """A new schedule: its name in the tenant plus its definition."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "nightly",
                    "tree": "nightly-report",
                    "version_policy": "published",
                    "cron": "0 2 * * *",
                    "time_zone": "Europe/Berlin",
                    "inputs": {"team": "billing"},
                    "overlap": "skip",
                    "catchup_window_seconds": 600,
                },
                {
                    "name": "every-minute",
                    "tree": "health-probe",
                    "version_policy": "pinned",
                    "version": 3,
                    "interval_seconds": 60,
                },
            ]
        },
    )

    name: str = Field(pattern=SCHEDULE_NAME_PATTERN, examples=["nightly"])


class ScheduleChanges(BaseModel):
    """Fields to change; omitted ones keep their value. `cron` or `interval_seconds`
    replaces the spec's form; the merged schedule is checked like a new one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"interval_seconds": 300, "inputs": {"team": "support"}},
                {"version_policy": "pinned", "version": 4},
            ]
        },
    )

    version_policy: VersionPolicy | None = None
    version: int | None = Field(default=None, ge=1)
    cron: str | None = Field(default=None, max_length=MAX_CRON_CHARS)
    interval_seconds: int | None = Field(
        default=None, ge=MIN_INTERVAL_SECONDS, le=MAX_INTERVAL_SECONDS
    )
    offset_seconds: int | None = Field(default=None, ge=0)
    time_zone: str | None = Field(default=None, max_length=64)
    start_at: datetime | None = None
    end_at: datetime | None = None
    jitter_seconds: int | None = Field(default=None, ge=0, le=MAX_INTERVAL_SECONDS)
    inputs: dict[str, Any] | None = None
    overlap: Overlap | None = None
    catchup_window_seconds: int | None = Field(
        default=None, ge=MIN_CATCHUP_WINDOW_SECONDS, le=MAX_CATCHUP_WINDOW_SECONDS
    )
    note: str | None = Field(default=None, max_length=200)


class PauseIn(BaseModel):
    model_config = strict_body({"note": "upstream outage"})
    note: str | None = Field(default=None, max_length=200)


class TriggerIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{}, {"overlap": "allow_all"}]}
    )
    overlap: Overlap | None = Field(
        default=None, description="Overrides the schedule's overlap policy for this run."
    )


class BackfillIn(BaseModel):
    model_config = strict_body(
        {
            "start_at": "2026-12-01T00:00:00Z",
            "end_at": "2026-12-02T00:00:00Z",
            "overlap": "allow_all",
        }
    )
    start_at: datetime
    end_at: datetime
    overlap: Overlap | None = Field(
        default=None, description="Default: the schedule's; use allow_all to run them all."
    )


class BackfillAccepted(BaseModel):
    runs: int = Field(description="Times the spec matches in the range (runs started).")


Writing = Annotated[TenantCall, tenant_call(Permission.SCHEDULES_WRITE)]


async def _view(call: TenantCall, name: str) -> ScheduleView:
    """The schedule as ``GET /{name}`` shows it."""
    return await call.services.schedules.view(
        call.session, call.client, call.tenant_id, name, call.services.page_tokens
    )


@router.post("", status_code=201, responses=CONFLICT)
async def create_schedule(body: ScheduleIn, response: Response, call: Writing) -> ScheduleView:
    """Create a schedule (422 names each bad field: spec, inputs, tools, version)."""
    services = call.services
    settings = await call.tenant_settings()
    definition = ScheduleDefinition.model_validate(body.model_dump(exclude={"name"}))
    record = await services.schedules.create(
        call.session,
        call.client,
        call.tenant_id,
        body.name,
        definition,
        settings=settings,
        flags=services.flags,
        actor=call.actor,
    )
    call.audit.target(body.name)
    call.audit.detail(
        tree=record.tree_name, version=record.tree_version, policy=record.version_policy
    )
    view = await _view(call, body.name)
    response.headers["Location"] = view.links.self
    return view


@router.get("")
async def list_schedules(
    call: Annotated[TenantScope, tenant_scope(Permission.SCHEDULES_READ)],
) -> ScheduleList:
    """This tenant's schedules by name (from the database; read one for its state)."""
    return await call.services.schedules.list(call.session, call.tenant_id)


@router.get("/{name}")
async def get_schedule(
    name: ScheduleName, call: Annotated[TenantCall, tenant_call(Permission.SCHEDULES_READ)]
) -> ScheduleView:
    """The schedule, its state in Temporal (paused, next runs) and its recent runs."""
    return await _view(call, name)


@router.patch("/{name}", responses=CONFLICT)
async def update_schedule(name: ScheduleName, body: ScheduleChanges, call: Writing) -> ScheduleView:
    """Change the spec, inputs, policies or version; runs already started are unchanged."""
    services = call.services
    settings = await call.tenant_settings()
    changes = body.model_dump(exclude_unset=True)
    record = await services.schedules.update(
        call.session,
        call.client,
        call.tenant_id,
        name,
        changes,
        settings=settings,
        flags=services.flags,
        actor=call.actor,
    )
    call.audit.target(name)
    call.audit.detail(changed=sorted(changes), version=record.tree_version)
    return await _view(call, name)


async def _set_paused(call: TenantCall, name: str, paused: bool, body: PauseIn | None) -> None:
    await call.services.schedules.set_paused(
        call.session, call.client, call.tenant_id, name, paused, body.note if body else None
    )
    call.audit.target(name)


@router.post("/{name}/pause", status_code=204)
async def pause_schedule(
    name: ScheduleName, call: Writing, body: Annotated[PauseIn | None, Body()] = None
) -> Response:
    """Stop starting runs until resumed (open runs continue)."""
    await _set_paused(call, name, True, body)
    return Response(status_code=204)


@router.post("/{name}/resume", status_code=204)
async def resume_schedule(
    name: ScheduleName, call: Writing, body: Annotated[PauseIn | None, Body()] = None
) -> Response:
    """Start runs on the spec again (missed ones within the catch-up window start too)."""
    await _set_paused(call, name, False, body)
    return Response(status_code=204)


@router.post("/{name}/trigger", status_code=202)
async def trigger_schedule(
    name: ScheduleName, call: Writing, body: Annotated[TriggerIn | None, Body()] = None
) -> Response:
    """Start one run now (also while paused), subject to the overlap policy."""
    await call.services.schedules.trigger(
        call.session, call.client, call.tenant_id, name, body.overlap if body else None
    )
    call.audit.target(name)
    return Response(status_code=202)


@router.post("/{name}/backfill", status_code=202)
async def backfill_schedule(
    name: ScheduleName, body: BackfillIn, call: Writing
) -> BackfillAccepted:
    """Start the runs the spec would have started in [start_at, end_at) (bounded)."""
    count = await call.services.schedules.backfill(
        call.session, call.client, call.tenant_id, name, body.start_at, body.end_at, body.overlap
    )
    call.audit.target(name)
    call.audit.detail(
        start_at=body.start_at.isoformat(), end_at=body.end_at.isoformat(), runs=count
    )
    return BackfillAccepted(runs=count)


@router.delete("/{name}", status_code=204)
async def delete_schedule(name: ScheduleName, call: Writing) -> Response:
    """Delete the schedule; the runs it started are kept (and still listed with its id)."""
    await call.services.schedules.delete(call.session, call.client, call.tenant_id, name)
    call.audit.target(name)
    return Response(status_code=204)

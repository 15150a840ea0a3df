"""Tenant schedules of trees on Temporal Schedules: define, read, change, fire, delete.

A schedule is two things kept in step: a row in `schedules` (its name in the tenant,
the tree, the version policy, the version its action runs now, the spec as written)
and the Temporal schedule `<tenant>:<name>` (spec, overlap and catch-up policy, paused
state, and the action holding the compiled tree and the inputs). The row comes first
and is committed only after Temporal accepted the schedule, so a failed create leaves
nothing behind; a delete removes the Temporal schedule first.

Version policy: `pinned` runs one version until the schedule is changed; `published`
follows the tree's published version (`api/schedule_publish.py` applies a publish).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.api.workflowservice.v1 import ListScheduleMatchingTimesRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleDescription,
    SchedulePolicy,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from api.db.models import ScheduleRecord, utcnow
from api.paging import PageTokens
from api.problems import PROBLEM_BASE, FieldError, ProblemError, conflict, not_found
from api.run_lookups import Plan, TreePlans
from api.run_policy import (
    EnforceToolAllowList,
    GateFlaggedTools,
    MatchDeclaredInputs,
    RejectInvalidRequest,
    StartAttempt,
    StartPolicy,
    StartRequest,
)
from api.runs import RunService
from api.schedule_models import (
    MAX_BACKFILL_RUNS,
    MAX_SCHEDULES_PER_TENANT,
    MIN_CATCHUP_WINDOW_SECONDS,
    RECENT_RUNS,
    SCHEDULE_RPC_TIMEOUT,
    ScheduleDefinition,
    ScheduleLinks,
    ScheduleList,
    ScheduleSummary,
    ScheduleTree,
    ScheduleView,
    backfill_problems,
    definition_problems,
    validation_problem,
)
from api.tenancy import TenantSettings
from api.trees import get_tree
from foundation.flags.client import FlagClient
from temporal_client.connection import TemporalSettings
from temporal_client.schedules import (
    OVERLAP_POLICIES,
    RUN_KEY_PREFIX,
    Overlap,
    action_request,
    schedule_id,
    schedule_spec,
    scheduled_action,
)
from workflows import search_attributes as sa_keys
from workflows.run_models import RunRequest

log = logging.getLogger("treeflow.api.schedules")
_UNAVAILABLE = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)


async def _run_and_policies(
    client: Client, description: ScheduleDescription
) -> tuple[RunRequest, str, timedelta | None]:
    """What a described schedule starts and how: its run request (decoded), the name of
    its overlap policy and its catch-up window."""
    schedule = description.schedule
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    request = await action_request(client, action)
    overlap = next(k for k, v in OVERLAP_POLICIES.items() if v == schedule.policy.overlap)
    return request, overlap, schedule.policy.catchup_window


def _spec_field(body: ScheduleDefinition) -> str:
    return "body.cron" if body.cron is not None else "body"


@asynccontextmanager
async def temporal_errors(invalid_field: str | None = None) -> AsyncIterator[None]:
    """Temporal's answers as problems: a missing schedule is a 404, a spec Temporal
    refuses a 422 naming `invalid_field`, an unreachable server a 503 (never a 500)."""
    try:
        yield
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise not_found("schedule") from None
        if exc.status == RPCStatusCode.INVALID_ARGUMENT and invalid_field is not None:
            message = exc.message[:300]
            raise validation_problem([FieldError(field=invalid_field, message=message)]) from None
        if exc.status in _UNAVAILABLE:
            raise ProblemError(
                503,
                "the workflow engine is unavailable; retry shortly",
                type_=PROBLEM_BASE + "temporal-unavailable",
                headers={"Retry-After": "1"},
            ) from None
        raise


def _seconds(value: int | None) -> timedelta | None:
    return timedelta(seconds=value) if value is not None else None


class ScheduleService:
    """Everything the schedule routes do; one per application."""

    def __init__(self, temporal: TemporalSettings, runs: RunService) -> None:
        self.temporal = temporal
        self.runs = runs
        self.plans = TreePlans()
        self._checks = StartPolicy(
            [
                GateFlaggedTools(),
                EnforceToolAllowList(),
                MatchDeclaredInputs(),
                RejectInvalidRequest(),
            ]
        )

    # ------------------------------------------------------------ helpers

    def links(self, tenant_id: uuid.UUID, name: str) -> ScheduleLinks:
        from urllib.parse import quote

        ui = self.temporal.ui_url.rstrip("/")
        namespace = quote(self.temporal.namespace)
        temporal_id = quote(schedule_id(str(tenant_id), name), safe="")
        return ScheduleLinks(
            self=f"/v1/tenants/{tenant_id}/schedules/{name}",
            runs=f"/v1/tenants/{tenant_id}/runs?schedule={name}",
            temporal_ui=f"{ui}/namespaces/{namespace}/schedules/{temporal_id}",
        )

    def summary(self, record: ScheduleRecord) -> ScheduleSummary:
        return ScheduleSummary(
            name=record.name,
            tree=ScheduleTree(
                name=record.tree_name,
                version=record.tree_version,
                version_policy=record.version_policy,
            ),
            spec=record.spec,
            sync_error=record.sync_error,
            created_by=record.created_by,
            created_at=record.created_at,
            updated_at=record.updated_at,
            links=self.links(record.tenant_id, record.name),
        )

    @staticmethod
    async def _release(session: AsyncSession, record: ScheduleRecord) -> None:
        """End the read transaction before Temporal calls (the embedded SQLite has one
        connection), keeping `record` readable."""
        session.expunge(record)
        await session.rollback()

    async def _record(
        self, session: AsyncSession, tenant_id: uuid.UUID, name: str
    ) -> ScheduleRecord:
        found: ScheduleRecord | None = await session.scalar(
            sa.select(ScheduleRecord).where(
                ScheduleRecord.tenant_id == tenant_id, ScheduleRecord.name == name
            )
        )
        if found is None:
            raise not_found("schedule")
        return found

    def handle(self, client: Client, record: ScheduleRecord) -> Any:
        return client.get_schedule_handle(schedule_id(str(record.tenant_id), record.name))

    async def _plan(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        body: ScheduleDefinition,
    ) -> Plan:
        """The tree version a definition runs (published policy: the published one)."""
        version = body.version
        if body.version_policy == "published":
            tree = await get_tree(session, tenant_id, body.tree)
            if tree.published_version is None:
                raise validation_problem(
                    [
                        FieldError(
                            field="body.version_policy",
                            message="the tree has no published version; publish one or pin",
                        )
                    ]
                )
            version = tree.published_version
        return await self.plans.resolve(session, tenant_id, body.tree, version)

    async def check_start(
        self,
        session: AsyncSession,
        client: Client,
        tenant_id: uuid.UUID,
        name: str,
        plan: Plan,
        inputs: dict[str, Any],
        settings: TenantSettings,
        flags: FlagClient | None,
        actor: str,
    ) -> None:
        """The run-start rules that apply to a schedule (flags, allow-list, inputs)."""
        request = StartRequest(
            tenant_id=tenant_id,
            settings=settings,
            actor=actor,
            key=RUN_KEY_PREFIX + name,
            tree_name=plan.compiled.name,
            version=plan.number,
            inputs=inputs,
            flags=flags,
        )
        attempt = StartAttempt(request, session, client, digest="", plan=plan)
        await self._checks.apply(attempt)

    def action(
        self, tenant_id: uuid.UUID, name: str, plan: Plan, inputs: dict[str, Any]
    ) -> ScheduleActionStartWorkflow:
        return scheduled_action(
            plan.compiled,
            inputs,
            tenant_id=str(tenant_id),
            name=name,
            task_queue=self.temporal.task_queue,
            memo={"tree_version_number": plan.number, "started_by": f"schedule:{name}"},
        )

    def _schedule(
        self, tenant_id: uuid.UUID, name: str, plan: Plan, body: ScheduleDefinition
    ) -> Schedule:
        return Schedule(
            action=self.action(tenant_id, name, plan, body.inputs),
            spec=schedule_spec(
                cron=body.cron,
                interval=_seconds(body.interval_seconds),
                offset=_seconds(body.offset_seconds),
                time_zone=body.time_zone,
                start_at=body.start_at,
                end_at=body.end_at,
                jitter=_seconds(body.jitter_seconds),
            ),
            policy=SchedulePolicy(
                overlap=OVERLAP_POLICIES[body.overlap],
                catchup_window=timedelta(seconds=body.catchup_window_seconds),
            ),
            state=ScheduleState(paused=body.paused, note=body.note),
        )

    # ------------------------------------------------------------ create, read, list

    async def create(
        self,
        session: AsyncSession,
        client: Client,
        tenant_id: uuid.UUID,
        name: str,
        body: ScheduleDefinition,
        *,
        settings: TenantSettings,
        flags: FlagClient | None,
        actor: str,
    ) -> ScheduleRecord:
        problems = definition_problems(body)
        if problems:
            raise validation_problem(problems)
        plan = await self._plan(session, tenant_id, body)
        await self.check_start(
            session, client, tenant_id, name, plan, body.inputs, settings, flags, actor
        )
        count = await session.scalar(
            sa.select(sa.func.count(ScheduleRecord.id)).where(ScheduleRecord.tenant_id == tenant_id)
        )
        if int(count or 0) >= MAX_SCHEDULES_PER_TENANT:
            raise conflict(
                f"the tenant has {MAX_SCHEDULES_PER_TENANT} schedules, the limit",
                "schedule-limit",
            )
        record = ScheduleRecord(
            tenant_id=tenant_id,
            name=name,
            tree_id=plan.tree_id,
            tree_name=body.tree,
            version_policy=body.version_policy,
            tree_version=plan.number,
            spec=body.spec_fields(),
            created_by=actor,
        )
        temporal_id = schedule_id(str(tenant_id), name)
        session.add(record)
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()
            raise conflict(f"schedule '{name}' exists", "schedule-exists") from None
        schedule = self._schedule(tenant_id, name, plan, body)
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(sa_keys.TENANT_ID, str(tenant_id)),
                SearchAttributePair(sa_keys.TREE_NAME, body.tree),
            ]
        )
        try:
            async with temporal_errors(_spec_field(body)):
                try:
                    await client.create_schedule(
                        temporal_id,
                        schedule,
                        search_attributes=attributes,
                        rpc_timeout=SCHEDULE_RPC_TIMEOUT,
                    )
                except ScheduleAlreadyRunningError:
                    # The row we just wrote is the only one with this name, so a Temporal
                    # schedule of that id is left over from a create that failed after
                    # Temporal accepted it: replace it.
                    log.warning("replacing orphaned Temporal schedule %s", temporal_id)
                    await client.get_schedule_handle(temporal_id).delete()
                    await client.create_schedule(
                        temporal_id,
                        schedule,
                        search_attributes=attributes,
                        rpc_timeout=SCHEDULE_RPC_TIMEOUT,
                    )
        except BaseException:
            await session.rollback()
            raise
        try:
            await session.commit()
        except Exception:
            # Temporal holds a schedule the database does not: undo it before failing.
            await client.get_schedule_handle(temporal_id).delete()
            raise
        return record

    async def list(self, session: AsyncSession, tenant_id: uuid.UUID) -> ScheduleList:
        rows = await session.scalars(
            sa.select(ScheduleRecord)
            .where(ScheduleRecord.tenant_id == tenant_id)
            .order_by(ScheduleRecord.name)
            .limit(MAX_SCHEDULES_PER_TENANT)
        )
        return ScheduleList(schedules=[self.summary(r) for r in rows])

    async def view(
        self,
        session: AsyncSession,
        client: Client,
        tenant_id: uuid.UUID,
        name: str,
        page_tokens: PageTokens,
    ) -> ScheduleView:
        record = await self._record(session, tenant_id, name)
        await self._release(session, record)
        description = await self.describe(client, record)
        return await self._view(client, record, description, page_tokens)

    async def describe(self, client: Client, record: ScheduleRecord) -> ScheduleDescription:
        async with temporal_errors():
            description: ScheduleDescription = await self.handle(client, record).describe(
                rpc_timeout=SCHEDULE_RPC_TIMEOUT
            )
        return description

    async def _view(
        self,
        client: Client,
        record: ScheduleRecord,
        description: ScheduleDescription,
        page_tokens: PageTokens,
    ) -> ScheduleView:
        schedule = description.schedule
        request, overlap, catchup = await _run_and_policies(client, description)
        recent = await self.runs.list(
            client,
            record.tenant_id,
            tree=None,
            status=None,
            schedule=record.name,
            limit=RECENT_RUNS,
            page_token=None,
            page_tokens=page_tokens,
        )
        return ScheduleView(
            **self.summary(record).model_dump(),
            inputs=request.inputs,
            overlap=overlap,
            catchup_window_seconds=int(catchup.total_seconds()) if catchup else 0,
            paused=schedule.state.paused,
            note=schedule.state.note or None,
            next_run_times=list(description.info.next_action_times),
            actions_taken=description.info.num_actions,
            recent_runs=recent.runs,
        )

    # ------------------------------------------------------------ update

    async def definition(
        self, client: Client, record: ScheduleRecord, description: ScheduleDescription
    ) -> ScheduleDefinition:
        """The schedule's current definition (spec as written, the rest from Temporal)."""
        schedule = description.schedule
        request, overlap, catchup = await _run_and_policies(client, description)
        return ScheduleDefinition.model_validate(
            {
                **record.spec,
                "tree": record.tree_name,
                "version_policy": record.version_policy,
                "version": record.tree_version if record.version_policy == "pinned" else None,
                "inputs": request.inputs,
                "overlap": overlap,
                "catchup_window_seconds": int(catchup.total_seconds())
                if catchup
                else MIN_CATCHUP_WINDOW_SECONDS,
                "paused": schedule.state.paused,
                "note": schedule.state.note or None,
            }
        )

    async def update(
        self,
        session: AsyncSession,
        client: Client,
        tenant_id: uuid.UUID,
        name: str,
        changes: dict[str, Any],
        *,
        settings: TenantSettings,
        flags: FlagClient | None,
        actor: str,
    ) -> ScheduleRecord:
        """Apply `changes` (fields of a definition) over the current definition; the
        merged definition is checked like a new one. Giving `cron` or `interval_seconds`
        replaces the spec's form (the other one is cleared)."""
        record = await self._record(session, tenant_id, name)
        current = await self.definition(client, record, await self.describe(client, record))
        merged = current.model_dump()
        if "cron" in changes or "interval_seconds" in changes:
            merged.update(cron=None, interval_seconds=None, offset_seconds=None)
        if changes.get("version_policy") == "published":
            merged["version"] = None
        merged.update(changes)
        try:
            body = ScheduleDefinition.model_validate(merged)
        except ValidationError as exc:  # e.g. an explicit null for a field that needs a value
            raise validation_problem(
                [
                    FieldError(field=".".join(["body", *map(str, e["loc"])]), message=e["msg"])
                    for e in exc.errors()
                ]
            ) from None
        problems = definition_problems(body)
        if problems:
            raise validation_problem(problems)
        if body.tree != record.tree_name:
            raise validation_problem(
                [FieldError(field="body.tree", message="a schedule's tree cannot change")]
            )
        plan = await self._plan(session, tenant_id, body)
        await self.check_start(
            session, client, tenant_id, name, plan, body.inputs, settings, flags, actor
        )
        new_schedule = self._schedule(tenant_id, name, plan, body)

        def updater(_input: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=new_schedule)

        async with temporal_errors(_spec_field(body)):
            await self.handle(client, record).update(updater, rpc_timeout=SCHEDULE_RPC_TIMEOUT)
        record.version_policy = body.version_policy
        record.tree_version = plan.number
        record.spec = body.spec_fields()
        record.sync_error = None
        record.updated_at = utcnow()
        await session.commit()
        return record

    # ------------------------------------------------------------ pause, trigger, backfill, delete

    async def set_paused(
        self,
        session: AsyncSession,
        client: Client,
        tenant_id: uuid.UUID,
        name: str,
        paused: bool,
        note: str | None,
    ) -> None:
        record = await self._record(session, tenant_id, name)
        await self._release(session, record)
        handle = self.handle(client, record)
        async with temporal_errors():
            if paused:
                await handle.pause(note=note or "paused", rpc_timeout=SCHEDULE_RPC_TIMEOUT)
            else:
                await handle.unpause(note=note or "resumed", rpc_timeout=SCHEDULE_RPC_TIMEOUT)

    async def trigger(
        self,
        session: AsyncSession,
        client: Client,
        tenant_id: uuid.UUID,
        name: str,
        overlap: Overlap | None,
    ) -> None:
        record = await self._record(session, tenant_id, name)
        await self._release(session, record)
        async with temporal_errors():
            await self.handle(client, record).trigger(
                overlap=OVERLAP_POLICIES[overlap] if overlap else None,
                rpc_timeout=SCHEDULE_RPC_TIMEOUT,
            )

    async def backfill(
        self,
        session: AsyncSession,
        client: Client,
        tenant_id: uuid.UUID,
        name: str,
        start_at: datetime,
        end_at: datetime,
        overlap: Overlap | None,
    ) -> int:
        """Start the runs the spec matches in [start_at, end_at); how many it matched."""
        problems = backfill_problems(start_at, end_at)
        if problems:
            raise validation_problem(problems)
        record = await self._record(session, tenant_id, name)
        await self._release(session, record)
        temporal_id = schedule_id(str(tenant_id), record.name)
        start, end = Timestamp(), Timestamp()
        try:
            start.FromDatetime(start_at)
            end.FromDatetime(end_at)
        except (ValueError, OverflowError):
            raise validation_problem(
                [FieldError(field="body.start_at", message="outside the range Temporal accepts")]
            ) from None
        async with temporal_errors("body.start_at"):
            matching = await client.workflow_service.list_schedule_matching_times(
                ListScheduleMatchingTimesRequest(
                    namespace=client.namespace,
                    schedule_id=temporal_id,
                    start_time=start,
                    end_time=end,
                ),
                timeout=SCHEDULE_RPC_TIMEOUT,
            )
        count = len(matching.start_time)
        if count > MAX_BACKFILL_RUNS:
            raise validation_problem(
                [
                    FieldError(
                        field="body.end_at",
                        message=f"the range matches {count} runs; at most {MAX_BACKFILL_RUNS}",
                    )
                ]
            )
        if count:
            async with temporal_errors("body.start_at"):
                await self.handle(client, record).backfill(
                    ScheduleBackfill(
                        start_at=start_at,
                        end_at=end_at,
                        overlap=OVERLAP_POLICIES[overlap] if overlap else None,
                    ),
                    rpc_timeout=SCHEDULE_RPC_TIMEOUT,
                )
        return count

    async def delete(
        self, session: AsyncSession, client: Client, tenant_id: uuid.UUID, name: str
    ) -> None:
        """Remove the Temporal schedule, then the row (runs it started are kept)."""
        record = await self._record(session, tenant_id, name)
        try:
            async with temporal_errors():
                await self.handle(client, record).delete(rpc_timeout=SCHEDULE_RPC_TIMEOUT)
        except ProblemError as problem:
            if problem.status != 404:  # gone from Temporal already: finish the delete
                raise
        await session.delete(record)
        await session.commit()

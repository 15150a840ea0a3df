"""Runs: start with an idempotency key, read state, list, send input, cancel.

A run is a `DecisionTreeWorkflow` whose id is `<tenant id>:<idempotency key>`; the
`runs` table maps the key to the tree version it runs and keeps the final state of
closed runs, which never change (so reading them needs no Temporal call).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cachetools import TLRUCache
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.db.models import RunRecord, new_id, utcnow
from api.paging import PageTokens, visibility_page
from api.problems import conflict, not_found
from api.run_lookups import RunCounts, TreePlans
from api.run_policy import (
    StartAttempt,
    StartRequest,
    find_run,
    idempotency_conflict,
    rerun_policy,
    start_policy,
)
from api.run_records import RunRecords
from api.scheduled_runs import adopt_scheduled_run
from api.singleflight import SingleFlight
from temporal_client.connection import TemporalSettings
from temporal_client.run_events import read_steps
from temporal_client.run_start import run_request, start_options, workflow_id
from temporal_client.schedules import (
    SCHEDULED_BY,
    is_scheduled_run_key,
    schedule_id,
    schedule_name,
)
from workflows import search_attributes as sa_keys
from workflows.run_models import Progress, RunResult, UserInput
from workflows.trail import StepRecord
from workflows.workflow import WORKFLOW_NAME, DecisionTreeWorkflow

RunStatus = Literal[
    "running", "waiting_input", "completed", "failed", "cancelled", "terminated", "timed_out"
]
_CLOSED: dict[WorkflowExecutionStatus, RunStatus] = {
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
}
_STATUS_QUERY = {
    "running": "ExecutionStatus = 'Running'",
    "waiting_input": "ExecutionStatus = 'Running' AND RunStatus = 'waiting_input'",
    "completed": "ExecutionStatus = 'Completed'",
    "failed": "ExecutionStatus = 'Failed'",
    "cancelled": "ExecutionStatus = 'Canceled'",
    "terminated": "ExecutionStatus = 'Terminated'",
    "timed_out": "ExecutionStatus = 'TimedOut'",
}


def _visibility_time(moment: datetime) -> str:
    """An aware time as the RFC 3339 UTC text visibility queries compare with."""
    # isoformat, not strftime: "%Y" drops a year's leading zeros on some platforms.
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


CLOSED_CACHE_SIZE = 10_000
"""Run views (closed for good, open for `open_run_cache_seconds`) kept per replica."""
QUERY_TIMEOUT = timedelta(seconds=3)
"""Longest a visibility list call may take before the request fails."""
RACE_WAIT_STEPS = 50
RACE_WAIT_SECONDS = 0.1
"""How long a start that lost an idempotency race waits for the winner's record (5 s)."""


class TreeRef(BaseModel):
    name: str = Field(examples=["support-triage"])
    version: int = Field(examples=[3])
    hash: str = Field(examples=["2eb35b6692bb..."])


class Links(BaseModel):
    self: str = Field(examples=["/v1/tenants/5d1c.../runs/order-42"])
    temporal_ui: str = Field(
        examples=["http://localhost:8233/namespaces/default/workflows/5d1c...%3Aorder-42"]
    )


class Failure(BaseModel):
    message: str
    type: str | None = None


class Pending(BaseModel):
    node: str
    prompt: str
    choices: list[str] | None = None


class RerunOrigin(BaseModel):
    """The run a re-run started from, and the node it re-ran from."""

    id: str = Field(description="The origin's idempotency key.")
    workflow_id: str
    run_id: str = Field(description="The origin's first run id.")
    from_node: str


class RerunRef(BaseModel):
    """A re-run of this run (newest first, at most `MAX_RERUNS_LISTED`)."""

    id: str
    workflow_id: str
    status: str
    started_at: datetime | None
    links: Links


class RunView(BaseModel):
    """A run as the API shows it."""

    id: str = Field(description="The idempotency key the run was started with.")
    workflow_id: str
    tree: TreeRef
    status: RunStatus
    created_at: datetime
    closed_at: datetime | None = None
    current_node: str | None = None
    path: list[str] = Field(default_factory=list)
    steps: int = 0
    waiting_for: list[Pending] = Field(default_factory=list)
    errors: dict[str, list[str]] = Field(default_factory=dict)
    outcome: str | None = Field(default=None, description="How a completed run ended.")
    output: dict[str, Any] | None = None
    failure: Failure | None = None
    step_records: list[StepRecord] = Field(
        default_factory=list,
        description="One record per visited node (see GET .../steps); attempts and Temporal's "
        "own times are filled in once the run is closed.",
    )
    schedule_id: str | None = Field(default=None, description="The schedule that started it.")
    links: Links
    rerun_of: RerunOrigin | None = Field(default=None, description="Set on re-runs.")
    reruns: list[RerunRef] = Field(
        default_factory=list, description="This run's re-runs, newest first (a bounded list)."
    )


class RunSummary(BaseModel):
    id: str
    workflow_id: str
    tree: str | None
    tree_version: str | None
    status: str
    started_at: datetime | None
    closed_at: datetime | None
    schedule_id: str | None = None
    links: Links
    rerun_of: str | None = Field(default=None, description="The origin's key, on re-runs.")


class RunPage(BaseModel):
    runs: list[RunSummary]
    next_page_token: str | None = None


def request_hash(tree: str, version: int | None, inputs: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"tree": tree, "version": version, "inputs": inputs}, sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _CachedView:
    body: bytes
    expires: float
    """`time.monotonic()` deadline; infinite for closed runs, which never change."""


class RunService:
    """Everything the run routes do; one per application."""

    def __init__(
        self, temporal: TemporalSettings, open_cache_seconds: float, records: RunRecords
    ) -> None:
        self.temporal = temporal
        self._records = records
        self._open_ttl = open_cache_seconds
        self._views: TLRUCache[tuple[uuid.UUID, str], _CachedView] = TLRUCache(
            maxsize=CLOSED_CACHE_SIZE, ttu=lambda _key, view, _now: view.expires
        )
        self._loading: SingleFlight[tuple[uuid.UUID, str], bytes] = SingleFlight()
        self._plans = TreePlans()
        self._counts = RunCounts()
        self.policy = start_policy(self._plans, self._counts, records)
        self.rerun_policy = rerun_policy(self._plans, self._counts, records)

    @property
    def plans(self) -> TreePlans:
        """The tree versions runs resolve (conversations resolve theirs the same way)."""
        return self._plans

    def links(self, tenant_id: uuid.UUID, key: str, wf_id: str) -> Links:
        return Links(
            self=f"/v1/tenants/{tenant_id}/runs/{key}", temporal_ui=self.temporal.run_url(wf_id)
        )

    # ------------------------------------------------------------ start

    async def start(
        self, session: AsyncSession, client: Client, request: StartRequest
    ) -> tuple[RunView, bool]:
        """Start (or find) the run for `request.key`; returns (view, created).

        The checks are the rules of `api.run_policy` (idempotency, version and rollout,
        flag gates, tool allow-list, inputs, quotas), applied in order.
        """
        rerun = request.rerun
        if rerun is None:
            digest = request_hash(request.tree_name, request.version, request.inputs)
        else:
            digest = rerun.digest
        attempt = StartAttempt(request, session, client, digest)
        await (self.policy if rerun is None else self.rerun_policy).apply(attempt)
        if attempt.existing is not None:
            return await self.view(session, client, attempt.existing), False
        # End the read transaction before the Temporal call: the embedded SQLite has
        # one connection, and holding it across the round trip serialises every start.
        await session.rollback()
        try:
            record = await self._start_workflow(client, attempt)
        except WorkflowAlreadyStartedError:
            # A concurrent request with this key started the run (and it may have ended
            # already): answer with that request's record once it is written.
            return await self._raced(session, client, request, digest), False
        # Stored with the concurrent starts' records in one statement (api.run_records).
        if not await self._records.insert(record):
            # The same key raced us; the workflow id made it one run.
            raced = await find_run(session, request.tenant_id, request.key)
            if raced is None or raced.request_hash != digest:
                raise idempotency_conflict() from None
            return await self.view(session, client, raced), False
        self._counts.started(request.tenant_id)
        view = self._fresh_view(record)
        if rerun is not None:
            view.rerun_of = RerunOrigin.model_validate(rerun.origin)
        return view, True

    async def _start_workflow(self, client: Client, attempt: StartAttempt) -> RunRecord:
        """Start the workflow the policy let through; the record to store for it."""
        request, plan, rollout = attempt.request, attempt.resolved, attempt.rollout
        tenant = str(request.tenant_id)
        wf_id = workflow_id(tenant, request.key)
        run = run_request(plan.compiled, request.inputs, tenant)
        if request.rerun is not None:
            run = run.model_copy(update={"rerun": request.rerun.plan})
        handle = await client.start_workflow(
            DecisionTreeWorkflow.run,
            run,
            **start_options(
                plan.compiled,
                tenant_id=tenant,
                workflow_id=wf_id,
                task_queue=self.temporal.task_queue,
                memo={"tree_version_number": plan.number, "started_by": request.actor},
                rollout=rollout.record() if rollout is not None else None,
                rerun_of=request.rerun.origin if request.rerun is not None else None,
            ),
        )
        return RunRecord(
            id=new_id(),
            created_at=utcnow(),
            tenant_id=request.tenant_id,
            key=request.key,
            workflow_id=wf_id,
            first_run_id=handle.first_execution_run_id or handle.result_run_id or "",
            tree_id=plan.tree_id,
            tree_name=request.tree_name,
            tree_version=plan.number,
            tree_hash=plan.compiled.hash,
            request_hash=attempt.digest,
            created_by=request.actor,
        )

    def forget_tree(self, tenant_id: uuid.UUID, name: str) -> None:
        """Drop the remembered default version (after a publish, a new version or a delete)."""
        self._plans.forget(tenant_id, name)

    def _fresh_view(self, record: RunRecord) -> RunView:
        return RunView(
            id=record.key,
            workflow_id=record.workflow_id,
            tree=TreeRef(name=record.tree_name, version=record.tree_version, hash=record.tree_hash),
            status="running",
            created_at=record.created_at,
            schedule_id=record.schedule_id,
            links=self.links(record.tenant_id, record.key, record.workflow_id),
        )

    # ------------------------------------------------------------ read

    async def _raced(
        self, session: AsyncSession, client: Client, request: StartRequest, digest: str
    ) -> RunView:
        """The run another request with this key started: its view once its record exists
        (409 if it was a different request, or if its record does not appear in time)."""
        for _ in range(RACE_WAIT_STEPS):
            await session.rollback()
            raced = await find_run(session, request.tenant_id, request.key)
            if raced is not None:
                if raced.request_hash != digest:
                    raise idempotency_conflict()
                return await self.view(session, client, raced)
            await asyncio.sleep(RACE_WAIT_SECONDS)
        raise conflict(
            "a run with this Idempotency-Key is being started; retry the request",
            "idempotency-conflict",
        )

    def cached(self, tenant_id: uuid.UUID, key: str) -> bytes | None:
        hit = self._views.get((tenant_id, key))
        return hit.body if hit is not None else None

    def _remember(self, tenant_id: uuid.UUID, view: RunView) -> bytes:
        closed = view.closed_at is not None
        expires = float("inf") if closed else time.monotonic() + self._open_ttl
        body = view.model_dump_json().encode()
        self._views[(tenant_id, view.id)] = _CachedView(body, expires)
        return body

    async def get_json(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client_factory: Callable[[], Awaitable[Client]],
        tenant_id: uuid.UUID,
        key: str,
    ) -> bytes:
        """The run's current state as JSON. Closed runs never change and are served from
        memory or the database; open runs are read from Temporal at most every
        `open_cache_seconds`."""
        cached = self.cached(tenant_id, key)
        if cached is not None:
            return cached

        async def load() -> bytes:
            async with sessions() as session:
                record = await find_run(session, tenant_id, key)
                if record is None and is_scheduled_run_key(key):
                    client = await client_factory()
                    record = await adopt_scheduled_run(session, client, tenant_id, key)
                if record is None:
                    raise not_found("run")
                if record.final_state is not None:
                    view = RunView.model_validate(record.final_state)
                else:
                    view = await self.view(session, await client_factory(), record)
            return self._remember(tenant_id, view)

        # Concurrent misses for one run share a single read (no stampede on Temporal).
        return await self._loading.get((tenant_id, key), load)

    async def view(self, session: AsyncSession, client: Client, record: RunRecord) -> RunView:
        base = self._fresh_view(record)
        handle = client.get_workflow_handle(record.workflow_id)
        description = await handle.describe()
        status = description.status
        if description.typed_search_attributes.get(sa_keys.RERUN_OF) is not None:
            origin = await description.memo_value("rerun_of", None)
            base.rerun_of = RerunOrigin.model_validate(origin) if origin else None
        if status == WorkflowExecutionStatus.RUNNING or status is None:
            try:
                progress: Progress
                progress, steps = await asyncio.gather(
                    handle.query(DecisionTreeWorkflow.progress, rpc_timeout=QUERY_TIMEOUT),
                    read_steps(client, record.workflow_id, with_history=False),
                )
            except (RPCError, WorkflowQueryFailedError):
                # No worker has picked the run up yet (a brand-new run, or a fleet that
                # is down): it is running, its progress is simply not readable now.
                return base
            waiting = progress.phase == "waiting_input"
            return base.model_copy(
                update={
                    "status": "waiting_input" if waiting else "running",
                    "current_node": progress.current_node,
                    "path": progress.path,
                    "steps": progress.steps,
                    "waiting_for": [
                        Pending(node=p.node, prompt=p.prompt, choices=p.choices)
                        for p in progress.waiting_for
                    ],
                    "errors": progress.errors,
                    "step_records": steps,
                }
            )
        final = await self._closed_view(base, handle, status, description.close_time)
        with contextlib.suppress(RPCError, WorkflowQueryFailedError):
            final.step_records = await read_steps(client, record.workflow_id)
        record.final_status = final.status
        record.final_state = final.model_dump(mode="json")
        record.closed_at = final.closed_at
        await session.commit()
        return final

    async def _closed_view(
        self,
        base: RunView,
        handle: WorkflowHandle[Any, Any],
        status: WorkflowExecutionStatus,
        closed_at: datetime | None,
    ) -> RunView:
        update: dict[str, Any] = {
            "status": _CLOSED.get(status, "failed"),
            "closed_at": closed_at or utcnow(),
        }
        try:
            result = RunResult.model_validate(await handle.result())
        except WorkflowFailureError as exc:
            update["failure"] = _failure(exc)
        else:
            update.update(
                outcome=result.outcome,
                output=result.output,
                path=result.path,
                steps=result.steps,
                errors=result.errors,
            )
        return base.model_copy(update=update)

    # ------------------------------------------------------------ list, input, cancel

    async def list(
        self,
        client: Client,
        tenant_id: uuid.UUID,
        *,
        tree: str | None,
        status: str | None,
        limit: int,
        schedule: str | None = None,
        page_token: str | None,
        page_tokens: PageTokens,
        started: tuple[datetime | None, datetime | None] = (None, None),
    ) -> RunPage:
        clauses = [
            f"{sa_keys.TENANT_ID.name} = '{tenant_id}'",
            f"WorkflowType = '{WORKFLOW_NAME}'",  # conversations are listed as conversations
        ]
        if tree is not None:
            clauses.append(f"{sa_keys.TREE_NAME.name} = '{tree}'")
        if status is not None:
            clauses.append(_STATUS_QUERY[status])
        if schedule is not None:
            clauses.append(f"{SCHEDULED_BY.name} = '{schedule_id(str(tenant_id), schedule)}'")
        after, before = started
        if after is not None:
            clauses.append(f"StartTime >= '{_visibility_time(after)}'")
        if before is not None:
            clauses.append(f"StartTime < '{_visibility_time(before)}'")
        executions, next_page_token = await visibility_page(
            client, page_tokens, "runs", tenant_id, " AND ".join(clauses), page_token, limit
        )
        prefix = f"{tenant_id}:"
        runs = []
        for execution in executions:
            if not execution.id.startswith(prefix) or "/" in execution.id:
                continue  # sub-tree child workflows are part of their parent run
            key = execution.id[len(prefix) :]
            attrs = execution.typed_search_attributes
            runs.append(
                RunSummary(
                    id=key,
                    workflow_id=execution.id,
                    tree=attrs.get(sa_keys.TREE_NAME),
                    tree_version=attrs.get(sa_keys.TREE_VERSION),
                    status=summary_status(execution.status, attrs.get(sa_keys.RUN_STATUS)),
                    started_at=execution.start_time,
                    closed_at=execution.close_time,
                    schedule_id=schedule_name(str(tenant_id), attrs.get(SCHEDULED_BY)),
                    links=self.links(tenant_id, key, execution.id),
                    rerun_of=_key_of(attrs.get(sa_keys.RERUN_OF), prefix),
                )
            )
        return RunPage(runs=runs, next_page_token=next_page_token)

    async def submit_input(
        self,
        session: AsyncSession,
        client: Client,
        tenant_id: uuid.UUID,
        key: str,
        answer: UserInput,
    ) -> str:
        record = await self._existing(session, client, tenant_id, key)
        handle = client.get_workflow_handle(record.workflow_id)
        try:
            accepted = await handle.execute_update(DecisionTreeWorkflow.submit_input, answer)
        except WorkflowUpdateFailedError as exc:
            reason = getattr(exc.cause, "message", None) or "rejected"
            raise conflict(
                f"the run did not accept the input: {reason}", "input-rejected"
            ) from None
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise conflict("the run is closed", "run-closed") from None
            raise
        self._views.pop((tenant_id, key), None)
        return accepted.node

    async def cancel(
        self, session: AsyncSession, client: Client, tenant_id: uuid.UUID, key: str
    ) -> None:
        record = await self._existing(session, client, tenant_id, key)
        if record.final_state is not None:
            raise conflict("the run is closed", "run-closed")
        handle = client.get_workflow_handle(record.workflow_id)
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise conflict("the run is closed", "run-closed")
        await handle.cancel()
        self._views.pop((tenant_id, key), None)

    async def _existing(
        self, session: AsyncSession, client: Client, tenant_id: uuid.UUID, key: str
    ) -> RunRecord:
        record = await find_run(session, tenant_id, key) or await adopt_scheduled_run(
            session, client, tenant_id, key
        )
        if record is None:
            raise not_found("run")
        return record


def _failure(error: WorkflowFailureError) -> Failure:
    """The reason the workflow gave (its ApplicationError), or the cancellation."""
    cause = error.cause
    message = getattr(cause, "message", None) or str(cause) or "run failed"
    kind = getattr(cause, "type", None) or type(cause).__name__
    return Failure(message=message[:2000], type=kind)


def _key_of(workflow_id: str | None, prefix: str) -> str | None:
    """The idempotency key in a workflow id of this tenant (`<tenant>:<key>`)."""
    if workflow_id is None or not workflow_id.startswith(prefix):
        return None
    return workflow_id[len(prefix) :]


def summary_status(status: WorkflowExecutionStatus | None, run_status: str | None) -> str:
    if status == WorkflowExecutionStatus.RUNNING or status is None:
        return "waiting_input" if run_status == "waiting_input" else "running"
    return _CLOSED.get(status, "failed")

"""Runs: start with an idempotency key, read state, list, send input, cancel.

A run is a `DecisionTreeWorkflow` whose id is `<tenant id>:<idempotency key>`; the
`runs` table maps the key to the tree version it runs and keeps the final state of
closed runs, which never change (so reading them needs no Temporal call).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
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

from activities.flags.client import FlagClient, FlagContext
from activities.flags.gates import blocked_tools
from activities.flags.rollout import RolloutDecision, decide_rollout, rollout_flag
from api.catalog import disallowed_tools
from api.db.models import RunRecord, TreeVersionRecord, utcnow
from api.problems import PROBLEM_BASE, FieldError, ProblemError, not_found
from api.tenancy import TenantSettings
from api.trees import compiled_of, conflict, get_tree
from workflows import search_attributes as sa_keys
from workflows.compiled import CompiledTree
from workflows.interpreter import DecisionTreeWorkflow
from workflows.launch import check_inputs, run_request, start_options, workflow_id
from workflows.run_models import Progress, RunResult, UserInput
from workflows.temporal_config import TemporalSettings

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
CLOSED_CACHE_SIZE = 10_000
PLAN_CACHE_SIZE = 1_000
TREE_CACHE_SECONDS = 1.0
QUERY_TIMEOUT = timedelta(seconds=3)
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
    links: Links


class RunSummary(BaseModel):
    id: str
    workflow_id: str
    tree: str | None
    tree_version: str | None
    status: str
    started_at: datetime | None
    closed_at: datetime | None
    links: Links


class RunPage(BaseModel):
    runs: list[RunSummary]
    next_page_token: str | None = None


def request_hash(tree: str, version: int | None, inputs: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"tree": tree, "version": version, "inputs": inputs}, sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class _Counter:
    """A per-tenant count read from a slow source at most every `ttl` seconds and
    incremented locally in between (quotas are soft limits, a few runs of slack)."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._values: dict[uuid.UUID, tuple[float, int]] = {}

    def get(self, tenant: uuid.UUID) -> int | None:
        hit = self._values.get(tenant)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def set(self, tenant: uuid.UUID, value: int) -> None:
        self._values[tenant] = (time.monotonic() + self._ttl, value)

    def bump(self, tenant: uuid.UUID) -> None:
        hit = self._values.get(tenant)
        if hit is not None:
            self._values[tenant] = (hit[0], hit[1] + 1)


class RunService:
    """Everything the run routes do; one per application."""

    def __init__(self, temporal: TemporalSettings, open_cache_seconds: float) -> None:
        self.temporal = temporal
        self._open_ttl = open_cache_seconds
        self._views: OrderedDict[tuple[uuid.UUID, str], tuple[float, bytes]] = OrderedDict()
        self._open_runs = _Counter(ttl=2.0)
        self._runs_today = _Counter(ttl=5.0)
        self._plans: dict[tuple[uuid.UUID, int], CompiledTree] = {}
        self._trees: dict[tuple[uuid.UUID, str], tuple[float, uuid.UUID, int]] = {}
        self._loading: dict[tuple[uuid.UUID, str], asyncio.Task[bytes]] = {}

    def links(self, tenant_id: uuid.UUID, key: str, wf_id: str) -> Links:
        return Links(
            self=f"/v1/tenants/{tenant_id}/runs/{key}", temporal_ui=self.temporal.run_url(wf_id)
        )

    # ------------------------------------------------------------ start

    async def start(
        self,
        session: AsyncSession,
        client: Client,
        tenant_id: uuid.UUID,
        settings: TenantSettings,
        actor: str,
        key: str,
        tree_name: str,
        version: int | None,
        inputs: dict[str, Any],
        *,
        flags: FlagClient | None = None,
    ) -> tuple[RunView, bool]:
        """Start (or find) the run for `key`; returns (view, created).

        With `flags`, tool flags may refuse the tree for this tenant, and when no
        version is asked for, the tree's rollout flag may route the run to its newest
        (unpublished) version; the decision is recorded in the run's memo and
        `TreeRollout` search attribute (see activities.flags.rollout).
        """
        digest = request_hash(tree_name, version, inputs)
        existing = await self._record(session, tenant_id, key)
        if existing is not None:
            if existing.request_hash != digest:
                raise conflict(
                    "this Idempotency-Key was used for a different request", "idempotency-conflict"
                )
            return await self.view(session, client, existing), False
        tree_id, number, compiled = await self._plan(session, tenant_id, tree_name, version)
        context = FlagContext(str(tenant_id), user_id=actor, tree=tree_name, session_id=key)
        rollout = None
        if flags is not None and version is None:
            rollout = await self._rollout(session, flags, tenant_id, tree_name, number, context)
            if rollout is not None and rollout.arm == "candidate":
                tree_id, number, compiled = await self._plan(
                    session, tenant_id, tree_name, int(rollout.version)
                )
        gated = [
            FieldError(
                field=f"tree.nodes.{b.node}.tool",
                message=f"{b.tool} is not enabled for this tenant (flag {b.flag})",
            )
            for tree_part in (compiled, *compiled.subtrees.values())
            for b in (
                blocked_tools(flags, tree_part.pins().items(), context) if flags is not None else []
            )
        ]
        problems = (
            gated
            + disallowed_tools(compiled, settings)
            + [
                FieldError(field=f"body.{p.field}", message=p.message)
                for p in check_inputs(compiled, inputs)
            ]
        )
        if problems:
            raise ProblemError(
                422,
                "the run request is invalid",
                type_=PROBLEM_BASE + "validation",
                errors=problems,
            )
        await self._check_quotas(session, client, tenant_id, settings)
        # End the read transaction before the Temporal call: the embedded SQLite has
        # one connection, and holding it across the round trip serialises every start.
        await session.rollback()
        wf_id = workflow_id(str(tenant_id), key)
        try:
            handle = await client.start_workflow(
                DecisionTreeWorkflow.run,
                run_request(compiled, inputs, str(tenant_id)),
                **start_options(
                    compiled,
                    tenant_id=str(tenant_id),
                    workflow_id=wf_id,
                    task_queue=self.temporal.task_queue,
                    memo={"tree_version_number": number, "started_by": actor},
                    rollout=rollout.record() if rollout is not None else None,
                ),
            )
        except WorkflowAlreadyStartedError:
            # A concurrent request with this key started the run (and it may have ended
            # already): answer with that request's record once it is written.
            return await self._raced(session, client, tenant_id, key, digest), False
        record = RunRecord(
            tenant_id=tenant_id,
            key=key,
            workflow_id=wf_id,
            first_run_id=handle.first_execution_run_id or handle.result_run_id or "",
            tree_id=tree_id,
            tree_name=tree_name,
            tree_version=number,
            tree_hash=compiled.hash,
            request_hash=digest,
            created_by=actor,
        )
        session.add(record)
        try:
            await session.commit()
        except IntegrityError:  # the same key raced us; the workflow id made it one run
            await session.rollback()
            raced = await self._record(session, tenant_id, key)
            if raced is None or raced.request_hash != digest:
                raise conflict(
                    "this Idempotency-Key was used for a different request", "idempotency-conflict"
                ) from None
            return await self.view(session, client, raced), False
        self._open_runs.bump(tenant_id)
        self._runs_today.bump(tenant_id)
        return self._fresh_view(record), True

    async def _plan(
        self, session: AsyncSession, tenant_id: uuid.UUID, name: str, version: int | None
    ) -> tuple[uuid.UUID, int, CompiledTree]:
        """The tree version a run uses, mostly from memory.

        Versions are immutable, so a parsed plan is kept for good; which version a name
        means by default (published, else latest) is remembered for `TREE_CACHE_SECONDS`.
        """
        hit = self._trees.get((tenant_id, name))
        if hit is not None and hit[0] > time.monotonic():
            tree_id, default = hit[1], hit[2]
        else:
            tree = await get_tree(session, tenant_id, name)
            tree_id, default = tree.id, tree.published_version or tree.latest_version
            self._trees[(tenant_id, name)] = (
                time.monotonic() + TREE_CACHE_SECONDS,
                tree_id,
                default,
            )
        number = version or default
        compiled = self._plans.get((tree_id, number))
        if compiled is None:
            record = await session.get(TreeVersionRecord, (tree_id, number))
            if record is None:
                raise not_found("tree version")
            compiled = compiled_of(record)
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.pop(next(iter(self._plans)))
            self._plans[(tree_id, number)] = compiled
        return tree_id, number, compiled

    async def _rollout(
        self,
        session: AsyncSession,
        flags: FlagClient,
        tenant_id: uuid.UUID,
        name: str,
        stable: int,
        context: FlagContext,
    ) -> RolloutDecision | None:
        """The rollout flag's choice: the default version, or the newest as the candidate.

        Costs a lookup in the in-memory flag set when the tree has no rollout flag.
        """
        if not flags.known(rollout_flag(name)):
            return None
        newest = (await get_tree(session, tenant_id, name)).latest_version
        decision = decide_rollout(
            flags,
            name,
            stable=str(stable),
            candidate=str(newest) if newest > stable else None,
            context=context,
        )
        if decision is not None and decision.arm == "candidate" and not decision.version.isdigit():
            return RolloutDecision(decision.flag, "stable", str(stable), decision.variant)
        return decision

    def forget_tree(self, tenant_id: uuid.UUID, name: str) -> None:
        """Drop the remembered default version (after a publish, a new version or a delete)."""
        self._trees.pop((tenant_id, name), None)

    def _fresh_view(self, record: RunRecord) -> RunView:
        return RunView(
            id=record.key,
            workflow_id=record.workflow_id,
            tree=TreeRef(name=record.tree_name, version=record.tree_version, hash=record.tree_hash),
            status="running",
            created_at=record.created_at,
            links=self.links(record.tenant_id, record.key, record.workflow_id),
        )

    async def _check_quotas(
        self, session: AsyncSession, client: Client, tenant_id: uuid.UUID, settings: TenantSettings
    ) -> None:
        quotas = settings.quotas
        open_runs = self._open_runs.get(tenant_id)
        if open_runs is None:
            counted = await client.count_workflows(
                f"TenantId = '{tenant_id}' AND ExecutionStatus = 'Running'"
            )
            open_runs = counted.count
            self._open_runs.set(tenant_id, open_runs)
        if open_runs >= quotas.max_concurrent_runs:
            raise _quota(f"{open_runs} runs are open; the limit is {quotas.max_concurrent_runs}", 5)
        today = self._runs_today.get(tenant_id)
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if today is None:
            today = int(
                await session.scalar(
                    sa.select(sa.func.count(RunRecord.id)).where(
                        RunRecord.tenant_id == tenant_id, RunRecord.created_at >= midnight
                    )
                )
                or 0
            )
            self._runs_today.set(tenant_id, today)
        if today >= quotas.runs_per_day:
            wait = (midnight + timedelta(days=1) - datetime.now(UTC)).total_seconds()
            raise _quota(f"{today} runs today; the limit is {quotas.runs_per_day}", wait)

    # ------------------------------------------------------------ read

    async def _raced(
        self,
        session: AsyncSession,
        client: Client,
        tenant_id: uuid.UUID,
        key: str,
        digest: str,
    ) -> RunView:
        """The run another request with this key started: its view once its record exists
        (409 if it was a different request, or if its record does not appear in time)."""
        for _ in range(RACE_WAIT_STEPS):
            await session.rollback()
            raced = await self._record(session, tenant_id, key)
            if raced is not None:
                if raced.request_hash != digest:
                    raise conflict(
                        "this Idempotency-Key was used for a different request",
                        "idempotency-conflict",
                    )
                return await self.view(session, client, raced)
            await asyncio.sleep(RACE_WAIT_SECONDS)
        raise conflict(
            "a run with this Idempotency-Key is being started; retry the request",
            "idempotency-conflict",
        )

    async def _record(
        self, session: AsyncSession, tenant_id: uuid.UUID, key: str
    ) -> RunRecord | None:
        result: RunRecord | None = await session.scalar(
            sa.select(RunRecord).where(RunRecord.tenant_id == tenant_id, RunRecord.key == key)
        )
        return result

    def cached(self, tenant_id: uuid.UUID, key: str) -> bytes | None:
        hit = self._views.get((tenant_id, key))
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def _remember(self, tenant_id: uuid.UUID, view: RunView) -> bytes:
        closed = view.closed_at is not None
        expires = float("inf") if closed else time.monotonic() + self._open_ttl
        body = view.model_dump_json().encode()
        self._views[(tenant_id, view.id)] = (expires, body)
        self._views.move_to_end((tenant_id, view.id))
        while len(self._views) > CLOSED_CACHE_SIZE:
            self._views.popitem(last=False)
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
        # Concurrent misses for one run share a single read (no stampede on Temporal).
        loading = self._loading.get((tenant_id, key))
        if loading is None:
            loading = asyncio.create_task(self._load(sessions, client_factory, tenant_id, key))
            self._loading[(tenant_id, key)] = loading
            loading.add_done_callback(lambda _: self._loading.pop((tenant_id, key), None))
        return await asyncio.shield(loading)

    async def _load(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client_factory: Callable[[], Awaitable[Client]],
        tenant_id: uuid.UUID,
        key: str,
    ) -> bytes:
        async with sessions() as session:
            record = await self._record(session, tenant_id, key)
            if record is None:
                raise not_found("run")
            if record.final_state is not None:
                view = RunView.model_validate(record.final_state)
            else:
                view = await self.view(session, await client_factory(), record)
        return self._remember(tenant_id, view)

    async def view(self, session: AsyncSession, client: Client, record: RunRecord) -> RunView:
        base = self._fresh_view(record)
        handle = client.get_workflow_handle(record.workflow_id)
        description = await handle.describe()
        status = description.status
        if status == WorkflowExecutionStatus.RUNNING or status is None:
            try:
                progress: Progress = await handle.query(
                    DecisionTreeWorkflow.progress, rpc_timeout=QUERY_TIMEOUT
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
                }
            )
        final = await self._closed_view(base, handle, status, description.close_time)
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
        page_token: str | None,
    ) -> RunPage:
        clauses = [f"{sa_keys.TENANT_ID.name} = '{tenant_id}'"]
        if tree is not None:
            clauses.append(f"{sa_keys.TREE_NAME.name} = '{tree}'")
        if status is not None:
            clauses.append(_STATUS_QUERY[status])
        query = " AND ".join(clauses)
        token = _decode_token(page_token)
        iterator = client.list_workflows(query, page_size=limit, next_page_token=token)
        try:
            await iterator.fetch_next_page(page_size=limit)
        except RPCError:
            if token is None:
                raise
            raise _invalid_token() from None  # Temporal cannot read the token it was given
        prefix = f"{tenant_id}:"
        runs = []
        for execution in iterator.current_page or []:
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
                    status=_summary_status(execution.status, attrs.get(sa_keys.RUN_STATUS)),
                    started_at=execution.start_time,
                    closed_at=execution.close_time,
                    links=self.links(tenant_id, key, execution.id),
                )
            )
        next_token = iterator.next_page_token
        return RunPage(
            runs=runs,
            next_page_token=base64.urlsafe_b64encode(next_token).decode() if next_token else None,
        )

    async def submit_input(
        self,
        session: AsyncSession,
        client: Client,
        tenant_id: uuid.UUID,
        key: str,
        answer: UserInput,
    ) -> str:
        record = await self._existing(session, tenant_id, key)
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
        record = await self._existing(session, tenant_id, key)
        if record.final_state is not None:
            raise conflict("the run is closed", "run-closed")
        handle = client.get_workflow_handle(record.workflow_id)
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise conflict("the run is closed", "run-closed")
        await handle.cancel()
        self._views.pop((tenant_id, key), None)

    async def _existing(self, session: AsyncSession, tenant_id: uuid.UUID, key: str) -> RunRecord:
        record = await self._record(session, tenant_id, key)
        if record is None:
            raise not_found("run")
        return record


def _quota(detail: str, retry_after: float) -> ProblemError:
    seconds = max(1, int(retry_after + 0.999))
    return ProblemError(
        429, detail, type_=PROBLEM_BASE + "quota-exceeded", headers={"Retry-After": str(seconds)}
    )


def _failure(error: WorkflowFailureError) -> Failure:
    """The reason the workflow gave (its ApplicationError), or the cancellation."""
    cause = error.cause
    message = getattr(cause, "message", None) or str(cause) or "run failed"
    kind = getattr(cause, "type", None) or type(cause).__name__
    return Failure(message=message[:2000], type=kind)


def _summary_status(status: WorkflowExecutionStatus | None, run_status: str | None) -> str:
    if status == WorkflowExecutionStatus.RUNNING or status is None:
        return "waiting_input" if run_status == "waiting_input" else "running"
    return _CLOSED.get(status, "failed")


def _decode_token(token: str | None) -> bytes | None:
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token.encode())
    except (ValueError, TypeError):
        raise _invalid_token() from None


def _invalid_token() -> ProblemError:
    return ProblemError(
        422,
        "invalid page token",
        type_=PROBLEM_BASE + "validation",
        errors=[FieldError(field="query.page_token", message="not a token from this API")],
    )

"""Re-run from a node: start a new run that reuses what a closed run recorded.

`POST /v1/tenants/{t}/runs/{key}/rerun` reads the origin's history
(temporal_client.run_history), picks `from_node` (default: the node the origin failed
at), merges input overrides over the origin's inputs and starts the new run through
the same start rules as any run (api.run_policy.rerun_policy), carrying the recorded
results before `from_node` (workflows.rerun). The new run's memo names its origin and
its `RerunOf` search attribute holds the origin's workflow id; an origin lists its
re-runs with a visibility query on that attribute.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from cachetools import TTLCache
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.db.models import RunRecord
from api.paging import LIST_RPC_TIMEOUT
from api.problems import PROBLEM_BASE, FieldError, ProblemError, conflict, invalid, not_found
from api.run_policy import RerunStart, StartRequest, find_run, idempotency_conflict
from api.runs import (
    QUERY_TIMEOUT,
    RerunRef,
    RunService,
    RunView,
    summary_status,
)
from api.tenancy import TenantSettings
from api.trees import get_tree
from foundation.flags.client import FlagClient
from temporal_client.run_history import HistoryUnreadable, RunHistory, read_run_history
from workflows import search_attributes as sa_keys
from workflows.run_models import Progress
from workflows.workflow import DecisionTreeWorkflow

MAX_REUSED_BYTES = 1_000_000
"""Largest set of recorded results (JSON bytes) a re-run carries in its input; Temporal
refuses payloads over 2 MiB and the input also holds the tree."""
MAX_RERUNS_LISTED = 20
"""Re-runs an origin's view lists (newest first)."""
RERUNS_CACHE_SECONDS = 2.0
"""How long a replica keeps an origin's list of re-runs before asking visibility again."""
RERUNS_CACHE_SIZE = 10_000
"""Origins whose re-run lists a replica keeps."""

VersionChoice = Literal["pinned", "published"]


@dataclass(frozen=True, slots=True)
class RerunAsk:
    """What the caller asked: re-run `origin_key` under `key`."""

    tenant_id: uuid.UUID
    settings: TenantSettings
    actor: str
    key: str
    origin_key: str
    from_node: str | None
    inputs: dict[str, Any]
    version: VersionChoice
    flags: FlagClient | None = None

    @property
    def digest(self) -> str:
        """The idempotency digest: what the caller asked, not what it resolved to."""
        canonical = json.dumps(
            {
                "rerun_of": self.origin_key,
                "from_node": self.from_node,
                "inputs": self.inputs,
                "version": self.version,
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def _invalid(field: str, message: str) -> ProblemError:
    return invalid("the run request is invalid", FieldError(field=field, message=message))


class RerunService:
    """Starts re-runs and lists an origin's re-runs; one per application."""

    def __init__(self, runs: RunService) -> None:
        self.runs = runs
        self._listed: TTLCache[tuple[uuid.UUID, str], list[RerunRef]] = TTLCache(
            maxsize=RERUNS_CACHE_SIZE, ttl=RERUNS_CACHE_SECONDS
        )

    async def start(
        self, session: AsyncSession, client: Client, ask: RerunAsk
    ) -> tuple[RunView, bool]:
        """Start (or find, for a repeated key) the re-run; returns (view, created)."""
        origin = await find_run(session, ask.tenant_id, ask.origin_key)
        if origin is None:
            raise not_found("run")
        existing = await find_run(session, ask.tenant_id, ask.key)
        if existing is not None:  # answered before reading any history
            if existing.request_hash != ask.digest:
                raise idempotency_conflict()
            return await self.runs.view(session, client, existing), False
        await self._require_closed(client, origin)
        try:
            history = await read_run_history(client, origin.workflow_id, origin.first_run_id)
        except HistoryUnreadable as exc:
            detail = f"the run's history cannot be re-run: {exc}"
            raise conflict(detail, "rerun-unavailable") from None
        from_node = ask.from_node or history.failed_node
        if from_node is None:
            raise _invalid(
                "body.from_node", "the run did not fail at a node; name the node to re-run from"
            )
        plan = history.rerun_plan(from_node)
        size = len(plan.model_dump_json())
        if size > MAX_REUSED_BYTES:
            raise _invalid(
                "body.from_node",
                f"the results recorded before '{from_node}' are {size} bytes; a re-run "
                f"carries at most {MAX_REUSED_BYTES} (re-run from an earlier node)",
            )
        request = StartRequest(
            tenant_id=ask.tenant_id,
            settings=ask.settings,
            actor=ask.actor,
            key=ask.key,
            tree_name=origin.tree_name,
            version=await self._version(session, origin, ask.version),
            inputs={**history.request.inputs, **ask.inputs},
            flags=ask.flags,
            rerun=RerunStart(
                origin={
                    "id": origin.key,
                    "workflow_id": origin.workflow_id,
                    "run_id": origin.first_run_id,
                    "from_node": from_node,
                },
                plan=plan,
                reached=frozenset(await _reached(client, origin, history, from_node)),
                digest=ask.digest,
            ),
        )
        try:
            view, created = await self.runs.start(session, client, request)
        except RPCError as exc:
            if exc.status != RPCStatusCode.INVALID_ARGUMENT or sa_keys.RERUN_OF.name not in str(
                exc
            ):
                raise
            raise ProblemError(  # a namespace set up before re-runs existed
                503,
                f"re-runs need the {sa_keys.RERUN_OF.name} search attribute: run "
                "`treeflow temporal-setup` against this Temporal namespace",
                type_=PROBLEM_BASE + "temporal-setup-needed",
            ) from None
        if created:
            self._listed.pop((ask.tenant_id, ask.origin_key), None)
        return view, created

    async def _require_closed(self, client: Client, origin: RunRecord) -> None:
        if origin.final_state is not None:
            return
        description = await client.get_workflow_handle(origin.workflow_id).describe()
        if description.status in (WorkflowExecutionStatus.RUNNING, None):
            raise conflict("the run is still open; re-run it once it has closed", "run-open")

    async def _version(self, session: AsyncSession, origin: RunRecord, choice: str) -> int:
        """`pinned`: the origin's version; `published`: the tree's published version."""
        if choice == "pinned":
            return origin.tree_version
        tree = await get_tree(session, origin.tenant_id, origin.tree_name)
        if tree.published_version is None:
            raise conflict(f"tree '{origin.tree_name}' has no published version", "unpublished")
        return tree.published_version

    # ------------------------------------------------------------ listing

    async def listed(self, client: Client, tenant_id: uuid.UUID, key: str) -> list[RerunRef]:
        """The origin's re-runs from visibility, newest first, at most `MAX_RERUNS_LISTED`
        (eventually consistent; kept `RERUNS_CACHE_SECONDS`)."""
        hit = self._listed.get((tenant_id, key))
        if hit is not None:
            return hit
        prefix = f"{tenant_id}:"
        query = (
            f"{sa_keys.TENANT_ID.name} = '{tenant_id}' AND "
            f"{sa_keys.RERUN_OF.name} = '{prefix}{key}'"
        )
        found: list[RerunRef] = []
        async for execution in client.list_workflows(
            query,
            page_size=MAX_RERUNS_LISTED,
            limit=MAX_RERUNS_LISTED,
            rpc_timeout=LIST_RPC_TIMEOUT,
        ):
            if not execution.id.startswith(prefix):
                continue
            rerun_key = execution.id[len(prefix) :]
            status = execution.typed_search_attributes.get(sa_keys.RUN_STATUS)
            found.append(
                RerunRef(
                    id=rerun_key,
                    workflow_id=execution.id,
                    status=summary_status(execution.status, status),
                    started_at=execution.start_time,
                    links=self.runs.links(tenant_id, rerun_key, execution.id),
                )
            )
        self._listed[(tenant_id, key)] = found
        return found

    async def with_reruns(
        self,
        body: bytes,
        client_factory: Callable[[], Awaitable[Client]],
        tenant_id: uuid.UUID,
        key: str,
    ) -> bytes:
        """A closed run's view (JSON) with its re-runs; open runs have none (a re-run
        starts only from a closed run), so their view is returned unchanged."""
        if b'"closed_at":null' in body:
            return body
        try:
            reruns = await self.listed(await client_factory(), tenant_id, key)
        except (RPCError, ProblemError):
            return body  # Temporal or its visibility is down: the view itself is right
        if not reruns:
            return body
        view = json.loads(body)
        view["reruns"] = [r.model_dump(mode="json") for r in reruns]
        return json.dumps(view, separators=(",", ":")).encode()


async def _reached(
    client: Client, origin: RunRecord, history: RunHistory, from_node: str
) -> set[str]:
    """Nodes the origin visited: from its history, and, for a run that did not complete
    (its result holds no path) when that does not show `from_node`, from its `progress`
    query (a rule decision leaves no event; a worker replays the closed run to answer)."""
    reached = history.reached()
    if history.request.rerun is not None:  # a re-run also visited what it reused
        reached.update(history.request.rerun.calls)
    if from_node in reached or history.result is not None:
        return reached
    if from_node not in history.request.tree.spec.nodes:
        return reached  # not a node of the tree the origin ran: it cannot have reached it
    handle = client.get_workflow_handle(origin.workflow_id)
    try:
        progress: Progress = await handle.query(
            DecisionTreeWorkflow.progress, rpc_timeout=QUERY_TIMEOUT
        )
    except (RPCError, WorkflowQueryFailedError):
        return reached  # no worker to replay it: the history is all there is
    return reached | set(progress.path)

"""The checks a run start passes, as small rules applied in order.

Modelled on Prefect's orchestration policies (`core_policy.py`, `rules.py`): each rule
looks at one thing about a :class:`StartAttempt` and either lets it through, adds to
it (the plan it resolved, a problem it found), answers it (an idempotent replay of a
run that exists) or refuses it (a `ProblemError`). :func:`start_policy` lists the
rules in the order they run; each is tested on its own in tests/api/test_run_policy.py.

The order is part of the contract: a repeated request is answered before anything
else is looked at; every validation problem (flags, allow-list, inputs) is collected
and reported at once as one 422; quotas are counted only for a request that is valid.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.catalog import disallowed_tools
from api.db.models import RunRecord
from api.problems import PROBLEM_BASE, FieldError, ProblemError, conflict, invalid
from api.run_lookups import Plan, RunCounts, TreePlans, seconds_to_midnight
from api.run_records import RunRecords
from api.tenancy import TenantSettings
from api.trees import get_tree
from foundation.flags.client import FlagClient, FlagContext
from foundation.flags.gates import blocked_tools
from foundation.flags.rollout import RolloutDecision, decide_rollout, rollout_flag
from temporal_client.run_start import check_inputs
from workflows.rerun import RerunPlan


@dataclass(frozen=True, slots=True)
class RerunStart:
    """What makes a start a re-run (built by api.reruns from the origin's history)."""

    origin: dict[str, Any]
    """`workflow_id`, `run_id`, `key` and `from_node`: the memo's `rerun_of`."""
    plan: RerunPlan
    reached: frozenset[str]
    """The nodes the origin's history shows it visited."""
    digest: str


@dataclass(frozen=True, slots=True)
class StartRequest:
    """What the caller asked for: run `tree_name` (at `version`) under `key`."""

    tenant_id: uuid.UUID
    settings: TenantSettings
    actor: str
    key: str
    tree_name: str
    version: int | None
    inputs: dict[str, Any]
    flags: FlagClient | None = None
    rerun: RerunStart | None = None

    @property
    def flag_context(self) -> FlagContext:
        return FlagContext(
            str(self.tenant_id), user_id=self.actor, tree=self.tree_name, session_id=self.key
        )


@dataclass(slots=True)
class StartAttempt:
    """One pass through the policy: the request plus what the rules found out."""

    request: StartRequest
    session: AsyncSession
    client: Client
    digest: str
    existing: RunRecord | None = None
    """Set when the key already names this request's run: the start is answered."""
    plan: Plan | None = None
    rollout: RolloutDecision | None = None
    problems: list[FieldError] = field(default_factory=list)

    @property
    def resolved(self) -> Plan:
        assert self.plan is not None, "ResolveTreeVersion runs before the rules that read it"
        return self.plan


def idempotency_conflict() -> ProblemError:
    return conflict("this Idempotency-Key was used for a different request", "idempotency-conflict")


async def find_run(session: AsyncSession, tenant_id: uuid.UUID, key: str) -> RunRecord | None:
    """The run recorded under `key`, if any."""
    result: RunRecord | None = await session.scalar(
        sa.select(RunRecord).where(RunRecord.tenant_id == tenant_id, RunRecord.key == key)
    )
    return result


class StartRule(abc.ABC):
    """One check of a run start."""

    @abc.abstractmethod
    async def apply(self, attempt: StartAttempt) -> None:
        """Let the attempt through, add to it, answer it (`existing`) or raise."""


class ReplayIdempotentRequest(StartRule):
    """The same key and request again: answer with the run that exists; 409 if the
    key was used for a different request.

    With `records`, a session that holds no connection yet asks the batched lookup
    first (one statement for all concurrent starts) and reads the run's row itself only
    when the key is taken; a session inside a transaction (a re-run's) reads it itself.
    """

    def __init__(self, records: RunRecords | None = None) -> None:
        self._records = records

    async def apply(self, attempt: StartAttempt) -> None:
        request = attempt.request
        if self._records is not None and not attempt.session.in_transaction():
            digest = await self._records.request_hash(request.tenant_id, request.key)
            if digest is None:
                return
            if digest != attempt.digest:
                raise idempotency_conflict()
        existing = await find_run(attempt.session, request.tenant_id, request.key)
        if existing is None:
            return
        if existing.request_hash != attempt.digest:
            raise idempotency_conflict()
        attempt.existing = existing


class ResolveTreeVersion(StartRule):
    """The version asked for, else the tree's default (published, else latest); 404s."""

    def __init__(self, plans: TreePlans) -> None:
        self._plans = plans

    async def apply(self, attempt: StartAttempt) -> None:
        request = attempt.request
        attempt.plan = await self._plans.resolve(
            attempt.session, request.tenant_id, request.tree_name, request.version
        )


class RouteRollout(StartRule):
    """With no version asked for, the tree's rollout flag may pick its newest version
    (the candidate); the decision is recorded with the run (see foundation.flags.rollout).
    Costs one lookup in the in-memory flag set when the tree has no rollout flag."""

    def __init__(self, plans: TreePlans) -> None:
        self._plans = plans

    async def apply(self, attempt: StartAttempt) -> None:
        request = attempt.request
        flags = request.flags
        if flags is None or request.version is not None:
            return
        if not flags.known(rollout_flag(request.tree_name)):
            return
        stable = attempt.resolved.number
        tree = await get_tree(attempt.session, request.tenant_id, request.tree_name)
        newest = tree.latest_version
        decision = decide_rollout(
            flags,
            request.tree_name,
            stable=str(stable),
            candidate=str(newest) if newest > stable else None,
            context=request.flag_context,
        )
        if decision is not None and decision.arm == "candidate" and not decision.version.isdigit():
            decision = RolloutDecision(decision.flag, "stable", str(stable), decision.variant)
        attempt.rollout = decision
        if decision is not None and decision.arm == "candidate":
            attempt.plan = await self._plans.resolve(
                attempt.session, request.tenant_id, request.tree_name, int(decision.version)
            )


class GateFlaggedTools(StartRule):
    """Tools (or tool versions) a flag switches off for this tenant refuse the tree."""

    async def apply(self, attempt: StartAttempt) -> None:
        flags = attempt.request.flags
        if flags is None:
            return
        compiled = attempt.resolved.compiled
        context = attempt.request.flag_context
        for tree_part in (compiled, *compiled.subtrees.values()):
            attempt.problems.extend(
                FieldError(
                    field=f"tree.nodes.{b.node}.tool",
                    message=f"{b.tool} is not enabled for this tenant (flag {b.flag})",
                )
                for b in blocked_tools(flags, tree_part.pins().items(), context)
            )


class EnforceToolAllowList(StartRule):
    """Tools outside the tenant's `allowed_tools` refuse the tree."""

    async def apply(self, attempt: StartAttempt) -> None:
        attempt.problems.extend(
            disallowed_tools(attempt.resolved.compiled, attempt.request.settings)
        )


class MatchDeclaredInputs(StartRule):
    """Inputs must match the tree's `inputs` block (names, required, types)."""

    async def apply(self, attempt: StartAttempt) -> None:
        attempt.problems.extend(
            FieldError(field=f"body.{p.field}", message=p.message)
            for p in check_inputs(attempt.resolved.compiled, attempt.request.inputs)
        )


class RejectInvalidRequest(StartRule):
    """Every problem found so far, at once, as one 422."""

    async def apply(self, attempt: StartAttempt) -> None:
        if attempt.problems:
            raise invalid("the run request is invalid", *attempt.problems)


class _CountingRule(StartRule):
    """A rule that checks what :class:`RunCounts` counts of the tenant's runs."""

    def __init__(self, counts: RunCounts) -> None:
        self._counts = counts


class EnforceConcurrentRunQuota(_CountingRule):
    """429 while the tenant has `max_concurrent_runs` open runs."""

    async def apply(self, attempt: StartAttempt) -> None:
        limit = attempt.request.settings.quotas.max_concurrent_runs
        open_runs = await self._counts.open_runs(attempt.client, attempt.request.tenant_id)
        if open_runs >= limit:
            raise quota_exceeded(f"{open_runs} runs are open; the limit is {limit}", 5)


class EnforceDailyRunQuota(_CountingRule):
    """429 until midnight UTC once the tenant started `runs_per_day` runs today."""

    async def apply(self, attempt: StartAttempt) -> None:
        limit = attempt.request.settings.quotas.runs_per_day
        today = await self._counts.runs_today(attempt.session, attempt.request.tenant_id)
        if today >= limit:
            raise quota_exceeded(f"{today} runs today; the limit is {limit}", seconds_to_midnight())


def quota_exceeded(detail: str, retry_after: float) -> ProblemError:
    seconds = max(1, int(retry_after + 0.999))
    return ProblemError(
        429, detail, type_=PROBLEM_BASE + "quota-exceeded", headers={"Retry-After": str(seconds)}
    )


class StartPolicy:
    """Rules applied in order; a rule that answers the attempt ends the pass."""

    def __init__(self, rules: Sequence[StartRule]) -> None:
        self.rules = tuple(rules)

    async def apply(self, attempt: StartAttempt) -> None:
        for rule in self.rules:
            await rule.apply(attempt)
            if attempt.existing is not None:
                return


def start_policy(
    plans: TreePlans, counts: RunCounts, records: RunRecords | None = None
) -> StartPolicy:
    """The run-start rules in the order they run."""
    return StartPolicy(
        [
            ReplayIdempotentRequest(records),
            ResolveTreeVersion(plans),
            RouteRollout(plans),
            GateFlaggedTools(),
            EnforceToolAllowList(),
            MatchDeclaredInputs(),
            RejectInvalidRequest(),
            EnforceConcurrentRunQuota(counts),
            EnforceDailyRunQuota(counts),
        ]
    )


class CheckRerunNode(StartRule):
    """A re-run's `from_node` must be a node of the tree it runs and one its origin
    reached (the history shows a visit)."""

    async def apply(self, attempt: StartAttempt) -> None:
        rerun = attempt.request.rerun
        assert rerun is not None, "only the re-run policy has this rule"
        node = rerun.plan.from_node
        if node not in attempt.resolved.compiled.spec.nodes:
            attempt.problems.append(
                FieldError(field="body.from_node", message=f"the tree has no node '{node}'")
            )
        elif node not in rerun.reached:
            attempt.problems.append(
                FieldError(field="body.from_node", message=f"the run never reached '{node}'")
            )


def rerun_policy(
    plans: TreePlans, counts: RunCounts, records: RunRecords | None = None
) -> StartPolicy:
    """The rules of a re-run: those of a start, with its version fixed by the caller
    (no rollout routing) and its `from_node` checked before any problem is reported."""
    return StartPolicy(
        [
            ReplayIdempotentRequest(records),
            ResolveTreeVersion(plans),
            GateFlaggedTools(),
            EnforceToolAllowList(),
            MatchDeclaredInputs(),
            CheckRerunNode(),
            RejectInvalidRequest(),
            EnforceConcurrentRunQuota(counts),
            EnforceDailyRunQuota(counts),
        ]
    )

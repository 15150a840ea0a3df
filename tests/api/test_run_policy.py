"""Each run-start rule on its own, then the policy's order (api/run_policy.py).

Rules run against the session app's real database and Temporal dev server; trees are
created over the API like a user would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.problems import ProblemError
from api.run_lookups import RunCounts, TreePlans
from api.run_policy import (
    EnforceConcurrentRunQuota,
    EnforceDailyRunQuota,
    EnforceToolAllowList,
    GateFlaggedTools,
    MatchDeclaredInputs,
    RejectInvalidRequest,
    ReplayIdempotentRequest,
    ResolveTreeVersion,
    RouteRollout,
    StartAttempt,
    StartPolicy,
    StartRequest,
    StartRule,
    start_policy,
)
from api.runs import request_hash
from api.services import Services
from api.tenancy import Quotas, TenantSettings
from foundation.flags.client import FlagClient
from foundation.flags.rollout import rollout_flag
from foundation.flags.settings import FlagSettings
from tests.api.conftest import World
from tests.api.test_runs import start
from tests.api.test_trees import create, tree_source, trees_url, unique


@pytest.fixture
async def session(services: Services) -> AsyncIterator[AsyncSession]:
    async with services.sessions() as db_session:
        yield db_session


def attempt_for(
    session: AsyncSession,
    client: Client,
    tenant: uuid.UUID,
    tree: str,
    *,
    key: str = "k-1",
    version: int | None = None,
    inputs: dict[str, Any] | None = None,
    settings: TenantSettings | None = None,
    flags: FlagClient | None = None,
) -> StartAttempt:
    request = StartRequest(
        tenant_id=tenant,
        settings=settings or TenantSettings(),
        actor="user:test",
        key=key,
        tree_name=tree,
        version=version,
        inputs=inputs or {},
        flags=flags,
    )
    return StartAttempt(request, session, client, request_hash(tree, version, request.inputs))


async def resolved(attempt: StartAttempt) -> StartAttempt:
    await ResolveTreeVersion(TreePlans()).apply(attempt)
    return attempt


def problem_of(excinfo: pytest.ExceptionInfo[ProblemError]) -> tuple[int, list[str]]:
    error = excinfo.value
    return error.status, [f"{e.field}: {e.message}" for e in error.errors or []]


@pytest.fixture
def flags_for(tmp_path: Path) -> Iterator[Any]:
    """A started embedded flag client serving the given feature definitions."""
    started: list[FlagClient] = []

    def make(*features: dict[str, Any]) -> FlagClient:
        path = tmp_path / f"flags-{len(started)}.json"
        path.write_text(json.dumps({"version": 2, "features": list(features)}))
        flags = FlagClient(FlagSettings(file=path, cache_dir=tmp_path / f"cache-{len(started)}"))
        started.append(flags.start())
        return flags

    yield make
    for flags in started:
        flags.stop()


def only_for(name: str, tenant: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "release",
        "enabled": True,
        "strategies": [
            {
                "name": "default",
                "parameters": {},
                "constraints": [{"contextName": "tenantId", "operator": "IN", "values": [tenant]}],
            }
        ],
    }


# ------------------------------------------------------------------ idempotency


async def test_replay_answers_the_same_request_and_refuses_a_different_one(
    world: World, session: AsyncSession, client: Client
) -> None:
    tree = unique("replay")
    await create(world.user.client, world.tenant_a, tree_source(tree))
    key = f"k-{uuid.uuid4().hex[:8]}"
    rule = ReplayIdempotentRequest()

    fresh = attempt_for(session, client, world.tenant_a, tree, key=key)
    await rule.apply(fresh)
    assert fresh.existing is None  # nothing under the key yet: the start goes on
    await session.rollback()  # the embedded SQLite has one connection; the API needs it

    assert (await start(world.user.client, world.tenant_a, tree, key)).status_code == 201
    again = attempt_for(session, client, world.tenant_a, tree, key=key)
    await rule.apply(again)
    assert again.existing is not None
    assert again.existing.key == key

    other = attempt_for(session, client, world.tenant_a, tree, key=key, inputs={"x": 1})
    with pytest.raises(ProblemError) as refused:
        await rule.apply(other)
    assert refused.value.status == 409
    assert refused.value.type.endswith("idempotency-conflict")


# ------------------------------------------------------------------ version and rollout


async def test_resolve_takes_the_asked_version_else_the_default_and_404s_missing_ones(
    world: World, session: AsyncSession, client: Client
) -> None:
    tree = unique("resolve")
    await create(world.user.client, world.tenant_a, tree_source(tree, "one"))
    await world.user.client.post(
        f"{trees_url(world.tenant_a)}/{tree}/versions", json={"source": tree_source(tree, "two")}
    )
    default = await resolved(attempt_for(session, client, world.tenant_a, tree))
    assert default.resolved.number == 2  # nothing published: the latest version
    pinned = await resolved(attempt_for(session, client, world.tenant_a, tree, version=1))
    assert pinned.resolved.number == 1
    assert pinned.resolved.compiled.hash != default.resolved.compiled.hash

    with pytest.raises(ProblemError) as missing_version:
        await resolved(attempt_for(session, client, world.tenant_a, tree, version=9))
    assert missing_version.value.status == 404
    with pytest.raises(ProblemError) as missing_tree:
        await resolved(attempt_for(session, client, world.tenant_a, unique("nope")))
    assert missing_tree.value.status == 404


async def test_rollout_routes_only_unpinned_runs_of_a_flagged_tree(
    world: World, session: AsyncSession, client: Client, flags_for: Any
) -> None:
    tree = unique("canary")
    url = f"{trees_url(world.tenant_a)}/{tree}"
    await create(world.user.client, world.tenant_a, tree_source(tree, "one"))
    await world.admin.client.post(f"{url}/publish", json={"version": 1})
    await world.user.client.post(f"{url}/versions", json={"source": tree_source(tree, "two")})
    plans = TreePlans()
    rule = RouteRollout(plans)

    unflagged = await resolved(
        attempt_for(session, client, world.tenant_a, tree, flags=flags_for())
    )
    await rule.apply(unflagged)
    assert (unflagged.rollout, unflagged.resolved.number) == (None, 1)

    flags = flags_for(only_for(rollout_flag(tree), str(world.tenant_a)))
    routed = await resolved(attempt_for(session, client, world.tenant_a, tree, flags=flags))
    await rule.apply(routed)
    assert routed.rollout is not None
    assert routed.rollout.record() == {
        "flag": rollout_flag(tree),
        "arm": "candidate",
        "version": "2",
    }
    assert routed.resolved.number == 2

    pinned = await resolved(
        attempt_for(session, client, world.tenant_a, tree, version=1, flags=flags)
    )
    await rule.apply(pinned)
    assert (pinned.rollout, pinned.resolved.number) == (None, 1)


# ------------------------------------------------------------------ validation


async def test_flag_gates_name_each_node_whose_tool_is_switched_off(
    world: World, session: AsyncSession, client: Client, flags_for: Any
) -> None:
    tree = unique("gated")
    await create(world.user.client, world.tenant_a, tree_source(tree))
    somebody_else = flags_for(only_for("tool.text_response", str(uuid.uuid4())))
    gated = await resolved(attempt_for(session, client, world.tenant_a, tree, flags=somebody_else))
    await GateFlaggedTools().apply(gated)
    assert [(p.field, p.message) for p in gated.problems] == [
        (
            "tree.nodes.greet.tool",
            "text_response@1.0.0 is not enabled for this tenant (flag tool.text_response)",
        )
    ]
    for flags in (None, flags_for(only_for("tool.text_response", str(world.tenant_a)))):
        allowed = await resolved(attempt_for(session, client, world.tenant_a, tree, flags=flags))
        await GateFlaggedTools().apply(allowed)
        assert allowed.problems == []


async def test_allow_list_refuses_tools_the_tenant_may_not_use(
    world: World, session: AsyncSession, client: Client
) -> None:
    tree = unique("allow")
    await create(world.user.client, world.tenant_a, tree_source(tree))
    narrow = TenantSettings(allowed_tools=["summarize"])
    refused = await resolved(attempt_for(session, client, world.tenant_a, tree, settings=narrow))
    await EnforceToolAllowList().apply(refused)
    assert [p.field for p in refused.problems] == ["tree.nodes.greet.tool"]
    assert "'text_response' is not allowed" in refused.problems[0].message

    wide = TenantSettings(allowed_tools=["text_response"])
    allowed = await resolved(attempt_for(session, client, world.tenant_a, tree, settings=wide))
    await EnforceToolAllowList().apply(allowed)
    assert allowed.problems == []


async def test_inputs_must_match_the_declared_block(
    world: World, session: AsyncSession, client: Client
) -> None:
    tree = unique("inputs")
    spec = yaml.safe_load(tree_source(tree))
    spec["inputs"] = {"item": {"type": "string"}, "count": {"type": "integer", "required": False}}
    await create(world.user.client, world.tenant_a, yaml.safe_dump(spec))
    bad = await resolved(
        attempt_for(session, client, world.tenant_a, tree, inputs={"count": "3", "extra": 1})
    )
    await MatchDeclaredInputs().apply(bad)
    assert sorted((p.field, p.message) for p in bad.problems) == [
        ("body.inputs.count", "expected integer, got str"),
        ("body.inputs.extra", "unknown input (declared: count, item)"),
        ("body.inputs.item", "required"),
    ]
    good = await resolved(attempt_for(session, client, world.tenant_a, tree, inputs={"item": "x"}))
    await MatchDeclaredInputs().apply(good)
    assert good.problems == []


async def test_every_problem_found_is_reported_at_once_as_one_422(
    world: World, session: AsyncSession, client: Client
) -> None:
    rule = RejectInvalidRequest()
    clean = attempt_for(session, client, world.tenant_a, "any")
    await rule.apply(clean)  # no problems: passes

    narrow = TenantSettings(allowed_tools=[])
    tree = unique("reject")
    await create(world.user.client, world.tenant_a, tree_source(tree))
    found = await resolved(
        attempt_for(session, client, world.tenant_a, tree, settings=narrow, inputs={"x": 1})
    )
    await EnforceToolAllowList().apply(found)
    await MatchDeclaredInputs().apply(found)  # undeclared inputs: no problem of its own
    with pytest.raises(ProblemError) as refused:
        await rule.apply(found)
    status, errors = problem_of(refused)
    assert status == 422
    assert errors == ["tree.nodes.greet.tool: tool 'text_response' is not allowed for this tenant"]


# ------------------------------------------------------------------ quotas


async def test_concurrent_run_quota_counts_open_runs(
    world: World, session: AsyncSession, client: Client
) -> None:
    counts = RunCounts()
    rule = EnforceConcurrentRunQuota(counts)
    tenant = uuid.uuid4()  # no runs in Temporal
    room = TenantSettings(quotas=Quotas(max_concurrent_runs=1))
    await rule.apply(attempt_for(session, client, tenant, "t", settings=room))

    counts.started(tenant)  # counted locally until the next read from Temporal
    with pytest.raises(ProblemError) as full:
        await rule.apply(attempt_for(session, client, tenant, "t", settings=room))
    assert full.value.status == 429
    assert full.value.detail == "1 runs are open; the limit is 1"
    assert full.value.headers == {"Retry-After": "5"}


async def test_daily_run_quota_waits_until_midnight(
    world: World, session: AsyncSession, client: Client
) -> None:
    counts = RunCounts()
    rule = EnforceDailyRunQuota(counts)
    tenant = uuid.uuid4()
    await rule.apply(
        attempt_for(session, client, tenant, "t", settings=TenantSettings(quotas=Quotas()))
    )
    none_left = TenantSettings(quotas=Quotas(runs_per_day=0))
    with pytest.raises(ProblemError) as spent:
        await rule.apply(attempt_for(session, client, tenant, "t", settings=none_left))
    assert spent.value.status == 429
    assert spent.value.detail == "0 runs today; the limit is 0"
    retry = int((spent.value.headers or {})["Retry-After"])
    assert 1 <= retry <= 86_400


# ------------------------------------------------------------------ the policy


class _Recording(StartRule):
    def __init__(self, seen: list[str], name: str, *, answers: bool = False) -> None:
        self._seen, self._name, self._answers = seen, name, answers

    async def apply(self, attempt: StartAttempt) -> None:
        self._seen.append(self._name)
        if self._answers:
            attempt.existing = object()  # type: ignore[assignment]


async def test_policy_applies_rules_in_order_and_stops_once_answered(
    world: World, session: AsyncSession, client: Client
) -> None:
    seen: list[str] = []
    policy = StartPolicy(
        [_Recording(seen, "a"), _Recording(seen, "b", answers=True), _Recording(seen, "c")]
    )
    await policy.apply(attempt_for(session, client, world.tenant_a, "t"))
    assert seen == ["a", "b"]


def test_the_run_start_order_is_idempotency_version_validation_then_quotas() -> None:
    names = [type(rule).__name__ for rule in start_policy(TreePlans(), RunCounts()).rules]
    assert names == [
        "ReplayIdempotentRequest",
        "ResolveTreeVersion",
        "RouteRollout",
        "GateFlaggedTools",
        "EnforceToolAllowList",
        "MatchDeclaredInputs",
        "RejectInvalidRequest",
        "EnforceConcurrentRunQuota",
        "EnforceDailyRunQuota",
    ]

"""Batched run-record lookups and inserts (api/run_records.py, api/db/batching.py).

Against the session app's real database (SQLite and PostgreSQL); the concurrent starts
go through the API and Temporal like any caller's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from temporalio.client import Client

from api.db.batching import Batcher
from api.db.models import Role, RunRecord, Tenant, new_id, utcnow
from api.problems import ProblemError
from api.run_policy import ReplayIdempotentRequest
from api.run_records import RunRecords
from api.services import Services
from tests.api.conftest import Actor, World, create_actor, create_tenant
from tests.api.test_run_policy import attempt_for
from tests.api.test_runs import start
from tests.api.test_trees import create, tree_source, unique


@pytest.fixture
def statements(services: Services) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while the test runs."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    engine = services.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", record)
    yield sent
    sa.event.remove(engine, "before_cursor_execute", record)


async def roomy_admin(app: FastAPI, services: Services) -> tuple[uuid.UUID, Actor]:
    """A tenant of its own whose open-run quota the concurrent starts cannot reach."""
    tenant = await create_tenant(services, "batch")
    async with services.sessions() as session:
        await session.execute(
            sa.update(Tenant)
            .where(Tenant.id == tenant)
            .values(settings={"quotas": {"max_concurrent_runs": 1000}})
        )
        await session.commit()
    return tenant, await create_actor(app, "batch-admin", {tenant: Role.ADMIN})


def record_for(tenant: uuid.UUID, tree_id: uuid.UUID, key: str) -> RunRecord:
    return RunRecord(
        id=new_id(),
        created_at=utcnow(),
        tenant_id=tenant,
        key=key,
        workflow_id=f"{tenant}:{key}",
        first_run_id="r-1",
        tree_id=tree_id,
        tree_name="t",
        tree_version=1,
        tree_hash="h" * 64,
        request_hash="d" * 64,
        created_by="user:test",
    )


async def tree_id_of(services: Services, tenant: uuid.UUID, name: str) -> uuid.UUID:
    async with services.sessions() as session:
        found = await session.scalar(
            sa.select(RunRecord.tree_id)
            .where(RunRecord.tenant_id == tenant, RunRecord.tree_name == name)
            .limit(1)
        )
    assert found is not None, f"no run of {name} recorded"
    return found


async def test_concurrent_starts_share_lookups_and_inserts(
    app: FastAPI, services: Services, statements: list[str]
) -> None:
    tenant, admin = await roomy_admin(app, services)
    tree = unique("batched")
    await create(admin.client, tenant, tree_source(tree))
    keys = [unique("b") for _ in range(30)]
    statements.clear()
    answers = await asyncio.gather(*(start(admin.client, tenant, tree, k) for k in keys))
    assert [a.status_code for a in answers] == [201] * len(keys), [a.text for a in answers]
    async with services.sessions() as session:
        stored = set(
            await session.scalars(
                sa.select(RunRecord.key).where(
                    RunRecord.tenant_id == tenant, RunRecord.key.in_(keys)
                )
            )
        )
    assert stored == set(keys)
    await admin.client.aclose()
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO RUNS")]
    lookups = [s for s in statements if "FROM runs" in s and "request_hash" in s]
    # 30 lookups at once share a few statements (one per batch in flight); the inserts
    # follow each Temporal start as it returns, so over HTTP they batch only as much as
    # they overlap: here no key is inserted twice (the next test pins the batching).
    assert 1 <= len(lookups) < len(keys) // 2, len(lookups)
    assert len(inserts) <= len(keys), len(inserts)


async def test_inserts_submitted_together_share_one_statement(
    world: World, services: Services, statements: list[str]
) -> None:
    tree = unique("ins")
    await create(world.user.client, world.tenant_a, tree_source(tree))
    await start(world.user.client, world.tenant_a, tree, unique("seed"))
    tree_id = await tree_id_of(services, world.tenant_a, tree)
    records = RunRecords(services.engine)
    keys = [unique("together") for _ in range(20)]
    statements.clear()
    stored = await asyncio.gather(
        *(records.insert(record_for(world.tenant_a, tree_id, k)) for k in keys)
    )
    assert stored == [True] * len(keys)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO RUNS")]
    # One call per row would be 20 statements; the batch is one (two at most if the first
    # flush starts before the last submit).
    assert len(inserts) <= 2, inserts
    for key in keys:
        assert await records.request_hash(world.tenant_a, key) == "d" * 64


async def test_batched_replay_answers_the_same_request_and_refuses_a_different_one(
    world: World, services: Services, client: Client
) -> None:
    tree = unique("replay-b")
    await create(world.user.client, world.tenant_a, tree_source(tree))
    key = unique("k")
    rule = ReplayIdempotentRequest(RunRecords(services.engine))
    async with services.sessions() as session:
        fresh = attempt_for(session, client, world.tenant_a, tree, key=key)
        await rule.apply(fresh)
        assert fresh.existing is None
        assert not session.in_transaction()  # the lookup did not use the request's session
    assert (await start(world.user.client, world.tenant_a, tree, key)).status_code == 201
    async with services.sessions() as session:
        again = attempt_for(session, client, world.tenant_a, tree, key=key)
        await rule.apply(again)
        assert again.existing is not None
        assert again.existing.key == key
    async with services.sessions() as session:
        other = attempt_for(session, client, world.tenant_a, tree, key=key, inputs={"x": 1})
        with pytest.raises(ProblemError) as refused:
            await rule.apply(other)
        assert refused.value.status == 409


async def test_a_taken_key_and_a_refused_row_do_not_fail_the_rest_of_the_batch(
    world: World, services: Services, statements: list[str]
) -> None:
    tree = unique("refused")
    await create(world.user.client, world.tenant_a, tree_source(tree))
    assert (await start(world.user.client, world.tenant_a, tree, unique("seed"))).status_code == 201
    tree_id = await tree_id_of(services, world.tenant_a, tree)
    records = RunRecords(services.engine)
    taken, good = unique("taken"), unique("good")
    statements.clear()
    first = await asyncio.gather(
        *(records.insert(record_for(world.tenant_a, tree_id, k)) for k in (taken, unique("x")))
    )
    assert first == [True, True]
    assert len([s for s in statements if s.lstrip().startswith("INSERT INTO runs")]) == 1
    outcomes = await asyncio.gather(
        records.insert(record_for(world.tenant_a, tree_id, taken)),  # the key is taken
        records.insert(record_for(world.tenant_a, uuid.uuid4(), unique("no-tree"))),  # FK
        records.insert(record_for(world.tenant_a, tree_id, good)),
        records.insert(record_for(world.tenant_a, tree_id, good)),  # twice in one batch
    )
    assert list(outcomes) == [False, False, True, False]
    assert await records.request_hash(world.tenant_a, good) == "d" * 64
    assert await records.request_hash(world.tenant_a, unique("absent")) is None


async def test_a_batch_failure_reaches_every_caller_and_the_next_batch_runs() -> None:
    calls: list[list[int]] = []

    async def handle(items: Any) -> list[int]:
        calls.append(list(items))
        if 0 in items:
            raise RuntimeError("refused")
        return [i * 2 for i in items]

    batcher: Batcher[int, int] = Batcher(handle, max_batch=2)
    results = await asyncio.gather(
        *(batcher.submit(i) for i in (0, 1, 2, 3)), return_exceptions=True
    )
    assert [str(r) if isinstance(r, Exception) else r for r in results] == [
        "refused",
        "refused",
        4,
        6,
    ]
    assert calls == [[0, 1], [2, 3]]

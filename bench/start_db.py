"""The database part of a run start, many at once, on the embedded SQLite: per request
through the ORM session against batched (`api.run_records`).

Each start looks its idempotency key up, ends the read, yields once (where the Temporal
start is) and stores its record, exactly the statements `RunService.start` issues for a
fresh key; `session` is how it issued them before 2026-12-02 (a `find_run` select, a
rollback, `session.add` and a commit, every start on its own on SQLite's one pooled
connection), `batched` is how it issues them now. No Temporal, no HTTP: this is the
ceiling the control-plane database puts on start-run, and its CPU per start.

    python -m bench.start_db [--concurrency 50 200] [--starts 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db.engine import make_engine, make_session_factory
from api.db.migrate import upgrade
from api.db.models import RunRecord, Tenant, TreeRecord, new_id, utcnow
from api.run_policy import find_run
from api.run_records import RunRecords

Start = Callable[[str], Awaitable[None]]


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> tuple[uuid.UUID, uuid.UUID]:
    tenant, tree = uuid.uuid4(), uuid.uuid4()
    async with sessions() as session:
        now = utcnow()
        session.add(
            Tenant(id=tenant, slug="b", name="b", settings={}, created_at=now, updated_at=now)
        )
        await session.flush()
        session.add(
            TreeRecord(id=tree, tenant_id=tenant, name="b", latest_version=1, created_by="b")
        )
        await session.commit()
    return tenant, tree


def _starts(
    sessions: async_sessionmaker[AsyncSession],
    records: RunRecords,
    tenant: uuid.UUID,
    tree: uuid.UUID,
) -> dict[str, Start]:
    def record(key: str) -> RunRecord:
        return RunRecord(
            id=new_id(), created_at=utcnow(), tenant_id=tenant, key=key, workflow_id=key,
            first_run_id="r", tree_id=tree, tree_name="b", tree_version=1, tree_hash="h" * 64,
            request_hash="d" * 64, created_by="bench",
        )  # fmt: skip

    async def per_session(key: str) -> None:
        async with sessions() as session:
            if await find_run(session, tenant, key) is not None:
                raise RuntimeError(f"{key} exists")
            await session.rollback()
            await asyncio.sleep(0)  # the Temporal start
            session.add(record(key))
            await session.commit()

    async def batched(key: str) -> None:
        async with sessions() as session:
            if await records.request_hash(tenant, key) is not None:
                raise RuntimeError(f"{key} exists")
            await session.rollback()
            await asyncio.sleep(0)
            if not await records.insert(record(key)):
                raise RuntimeError(f"{key} was taken")

    return {"session": per_session, "batched": batched}


async def _measure(start: Start, prefix: str, concurrency: int, starts: int) -> tuple[float, float]:
    """(starts per second, CPU ms per start) of `starts` starts, `concurrency` at once."""
    gate = asyncio.Semaphore(concurrency)

    async def one(key: str) -> None:
        async with gate:
            await start(key)

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(f"{prefix}-{i}") for i in range(starts)))
    elapsed, spent = time.perf_counter() - began, time.process_time() - cpu
    return starts / elapsed, spent * 1000 / starts


async def run(concurrencies: list[int], starts: int, rounds: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="treeflow-start-db-"))
    engine = make_engine(f"sqlite+aiosqlite:///{workdir}/bench.db")
    try:
        await upgrade(engine)
        sessions = make_session_factory(engine)
        tenant, tree = await _seed(sessions)
        sides = _starts(sessions, RunRecords(engine), tenant, tree)
        print(f"{starts} starts per batch, sides alternating, {rounds} rounds\n")
        print(f"{'side':9} {'concurrency':>11} {'starts/s per round':>30} {'CPU ms/start':>14}")
        for concurrency in concurrencies:
            figures: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
            for round_ in range(rounds):
                for name, start in sides.items():
                    prefix = f"{name}-{concurrency}-{round_}"
                    figures[name].append(await _measure(start, prefix, concurrency, starts))
            for name, values in figures.items():
                rates = ", ".join(f"{rate:.0f}" for rate, _ in values)
                cpu = statistics.median(c for _, c in values)
                print(f"{name:9} {concurrency:11d} {rates:>30} {cpu:14.2f}")
    finally:
        await engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--starts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.concurrency, args.starts, args.rounds))


if __name__ == "__main__":
    main()

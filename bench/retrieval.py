"""Latency of the embedded retrieval store: each search mode and aggregation, p50/p99.

Usage: ``python -m bench.retrieval [--sizes 10000,100000] [--runs 200] [--dir DIR]``

Generates support tickets (``activities.data.tickets``, seed 7), loads them into a
fresh embedded store per size (load time is reported too), warms up, then times
``--runs`` calls per operation with varied queries, one call at a time. The
``tool:`` rows call the ``query`` and ``aggregate`` tools themselves (argument
models, field checks against the stored profile, output shaping) on the same
store, as their activities do minus Temporal (see bench/tool_overhead.py for that).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from activities.backends import PropertyMetrics, where
from activities.backends.embedded import EmbeddedBackend
from activities.builtin.aggregate import Aggregate, AggregateInput
from activities.builtin.preprocess import PreprocessCollection, PreprocessInput
from activities.builtin.query import Query, QueryInput
from activities.data.tickets import PRODUCTS
from activities.sdk import ToolContext
from bench.retrieval_ops import QUERIES, load_tickets, operations, ticket_records
from bench.stats import percentile


def _row(label: str, times: list[float]) -> tuple[str, float, float, float]:
    """A report row: (label, p50, p99, mean) of ``times``."""
    return label, percentile(times, 0.5), percentile(times, 0.99), statistics.fmean(times)


async def bench_size(root: Path, size: int, runs: int) -> list[tuple[str, float, float, float]]:
    """Load ``size`` tickets and time every operation; rows of (name, p50, p99, mean) in ms."""
    store = EmbeddedBackend(root / f"n{size}")
    records = ticket_records(size)
    started = time.perf_counter()
    await load_tickets(store, records, batch_size=5_000)
    load_s = time.perf_counter() - started
    rows = [("load (s, total)", load_s * 1000, load_s * 1000, load_s * 1000)]
    for label, op in operations("Tickets").items():
        for i in range(5):
            await op(store, i)  # warm caches and indexes
        times = []
        for i in range(runs):
            t0 = time.perf_counter()
            await op(store, i)
            times.append((time.perf_counter() - t0) * 1000)
        rows.append(_row(label, times))
    await store.close()
    rows += await tool_rows(root / f"n{size}", runs)
    return rows


async def tool_rows(path: Path, runs: int) -> list[tuple[str, float, float, float]]:
    """Time the `query` and `aggregate` tools (after preprocessing, so fields are checked)."""
    config = {"retrieval": {"kind": "embedded", "path": str(path)}}
    query, aggregate, preprocess = Query(), Aggregate(), PreprocessCollection()
    for tool in (query, aggregate, preprocess):
        await tool.startup(config)
    await preprocess.run(
        PreprocessInput(collection="Tickets", sample_size=500),
        ToolContext.for_testing(PreprocessCollection, config=config),
    )
    q_ctx = ToolContext.for_testing(Query, config=config)
    a_ctx = ToolContext.for_testing(Aggregate, config=config)
    ops: dict[str, Callable[[int], Awaitable[Any]]] = {
        "tool: query hybrid": lambda i: query.run(
            QueryInput(collection="Tickets", query=QUERIES[i % len(QUERIES)], limit=10), q_ctx
        ),
        "tool: query filter": lambda i: query.run(
            QueryInput(
                collection="Tickets",
                mode="filter",
                filters=where("product", "eq", PRODUCTS[i % 5]),
                sort={"property": "created_at", "direction": "desc"},  # type: ignore[arg-type]
                limit=10,
            ),
            q_ctx,
        ),
        "tool: aggregate": lambda i: aggregate.run(
            AggregateInput(
                collection="Tickets",
                group_by="category",
                metrics=[PropertyMetrics(property="resolution_hours", ops=["mean", "max"])],
            ),
            a_ctx,
        ),
    }
    rows = []
    for label, op in ops.items():
        for i in range(5):
            await op(i)
        times = []
        for i in range(runs):
            t0 = time.perf_counter()
            await op(i)
            times.append((time.perf_counter() - t0) * 1000)
        rows.append(_row(label, times))
    for tool in (query, aggregate, preprocess):
        await tool.shutdown()
    return rows


def main() -> int:
    """Run the benchmark and print one table per size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None, help="store directory (default: temp)")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="treeflow-bench-"))
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            rows = asyncio.run(bench_size(root, size, args.runs))
            print(f"\nembedded store, {size:,} tickets, {args.runs} runs per operation")
            print(f"{'operation':<20}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
            load = rows[0][1] / 1000
            print(f"{'load + index':<20}{'':>10}{'':>10}{'':>10}   {load:.1f} s total")
            for label, p50, p99, mean in rows[1:]:
                print(f"{label:<20}{p50:>10.1f}{p99:>10.1f}{mean:>10.1f}")
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Per-tool activity overhead: the same tool as a plain Python call and as a Temporal activity.

For each tool, in the same process and run:

* plain: `await tool(args, ctx)` (the class tool's `run`), args already validated;
* activity, 1 call/run: a one-activity workflow per call, start to result (what a
  single-step run pays: workflow task + activity task + argument validation +
  output serialisation);
* activity, in a loop: one workflow calls the activity `--loop` times; wall / calls
  (what each extra step of a longer run pays).

    python -m bench.tool_overhead [--runs 100] [--loop 20]

Starts its own dev server (dispatch limit raised as in `treeflow up`) and an
in-process worker over an embedded store with the demo tickets.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client

from activities.backends.embedded import EmbeddedBackend
from activities.backends.loader import load_demo
from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from activities.sdk import CallInfo, ToolContext
from bench.stats import percentile
from bench.toolcall import ToolCallLoop
from temporal_client.connection import TemporalSettings
from treeflow.devserver import DevServer, free_port
from treeflow.exit import exit_now
from worker.runner import build_worker
from worker.settings import WorkerSettings

QUEUE = "bench-tools"
ROWS = [{"group": f"g{i}", "count": i * 3 % 17} for i in range(8)]
CASES: dict[str, dict[str, Any]] = {
    "text_response@1.0.0": {"text": "Thanks for reaching out, we are on it."},
    "summarize@1.0.0": {
        "text": "Refunds are issued within five days. Invoices are in Settings. "
        "Charges twice are refunded automatically. Prices exclude tax.",
        "query": "refund",
        "max_sentences": 2,
    },
    "query@1.0.0": {"collection": "SupportTickets", "query": "login failures", "limit": 5},
    "aggregate@1.0.0": {
        "collection": "SupportTickets",
        "group_by": "product",
        "metrics": [{"property": "resolution_hours", "ops": ["mean"]}],
    },
    "visualize@1.0.0": {"kind": "bar", "data": ROWS, "x": "group", "y": "count"},
}


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    for _ in range(3):
        await fn()  # warm up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


Caller = Callable[[], Awaitable[Any]]


def callers(
    client: Client, host: ToolHost, registry: ToolRegistry, activity: str, raw: dict[str, Any]
) -> tuple[Caller, Caller]:
    """The plain call (validated args, direct await) and the one-activity workflow run."""
    name, _, version = activity.partition("@")
    definition = registry.get(name, version)
    implementation = host.implementation(definition)
    validated = definition.spec.input_model.model_validate(raw)
    ctx = ToolContext(
        info=CallInfo(tenant_id="bench"), spec=definition.spec, config=host.tool_config(name)
    )

    async def plain() -> Any:
        return await implementation(validated, ctx)

    async def one_run() -> Any:
        return await client.execute_workflow(
            ToolCallLoop.run,
            args=[activity, raw, 1],
            id=f"bench-{uuid.uuid4().hex}",
            task_queue=QUEUE,
        )

    return plain, one_run


async def measure(args: argparse.Namespace, address: str, store: Path) -> None:
    registry = ToolRegistry.discover()
    config = {"defaults": {"retrieval": {"kind": "embedded", "path": str(store)}}}
    settings = TemporalSettings(address=address, task_queue=QUEUE)
    client = await Client.connect(**settings.connect_kwargs())
    rows = []
    async with ToolHost(registry, config=config).running() as host:
        worker = build_worker(client, WorkerSettings(), QUEUE, host, extra_workflows=[ToolCallLoop])
        async with worker:
            for activity, raw in CASES.items():
                plain, one_run = callers(client, host, registry, activity, raw)
                plain_ms = await timed(plain, args.runs)
                single_ms = await timed(one_run, args.runs)
                loops = max(3, args.runs // args.loop)
                loop_ms = []
                for _ in range(loops):
                    started = time.perf_counter()
                    await client.execute_workflow(
                        ToolCallLoop.run,
                        args=[activity, raw, args.loop],
                        id=f"bench-{uuid.uuid4().hex}",
                        task_queue=QUEUE,
                    )
                    loop_ms.append((time.perf_counter() - started) * 1000 / args.loop)
                rows.append((activity, plain_ms, single_ms, loop_ms))
    print(f"\nper-tool overhead, {args.runs} calls each (ms); loop = {args.loop} calls per run\n")
    print(
        f"{'tool':<22}{'plain p50':>10}{'p99':>8}{'1/run p50':>11}{'p99':>8}"
        f"{'loop/call':>11}{'overhead p50':>14}"
    )
    for activity, plain_ms, single_ms, loop_ms in rows:
        p50 = statistics.median(plain_ms)
        loop = statistics.median(loop_ms)
        print(
            f"{activity:<22}{p50:>10.2f}{percentile(plain_ms, 0.99):>8.2f}"
            f"{statistics.median(single_ms):>11.2f}{percentile(single_ms, 0.99):>8.2f}"
            f"{loop:>11.2f}{loop - p50:>14.2f}"
        )
    print(
        "\noverhead p50 = activity (loop, per call) - plain; the 1/run column adds a workflow start"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--loop", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        store = Path(scratch) / "store"

        async def prepare() -> None:
            backend = EmbeddedBackend(store)
            await load_demo(backend)
            await backend.close()

        asyncio.run(prepare())
        with DevServer(port=free_port(), ui_port=None).running() as server:
            asyncio.run(measure(args, server.address, store))
    exit_now(0)


if __name__ == "__main__":
    main()

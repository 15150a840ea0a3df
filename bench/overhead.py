"""Treeflow's interpreter versus a hand-written Temporal workflow, on one server, one run.

Both run the same N-step chain of the same activity (`bench_step@1.0.0`). The
Treeflow tree also puts a rule decision between steps (the hand-written workflow
uses a Python `if`), so the figures show that rule decisions cost no activity.
Batches of the two kinds alternate so machine noise hits both alike.

    .venv/bin/python bench/overhead.py [--steps 5] [--runs 200] [--concurrency 10]

Self-contained: it starts its own dev server and worker unless `--address` points
at a server (the worker is always in-process). Ends with `overhead_ratio=<float>`.

`--compare instrumentation` measures the cost of observability instead: the same
Treeflow chain on a plain worker and client versus an instrumented pair (run,
tool and decision metrics, the Temporal SDK's Prometheus runtime, tracing with the
`TracingInterceptor` on client and worker and every span exported through a batch
processor), alternating on one server. Ends with `instrumentation_ratio=<float>`.

`--compare codec` measures the payload codec: the same Treeflow chain on a plain
worker and client versus a pair encrypting every payload (AES-GCM per tenant,
`foundation.secrets.payload_codec`), alternating on one server. Ends with
`codec_ratio=<float>`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from handwritten import HandWrittenChain  # bench/ is on sys.path when run as a script
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from activities.sdk import ToolContext, tool
from foundation.secrets import Keyring
from foundation.secrets.payload_codec import TenantPayloadCodec
from foundation.telemetry.tracing import build_tracer_provider
from temporal_client.connection import TemporalSettings
from temporal_client.run_start import run_request, start_options
from treeflow.devserver import DevServer, free_port
from treeflow.exit import exit_now
from worker.runner import build_worker
from worker.settings import WorkerSettings
from worker.telemetry.setup import WorkerTelemetry
from workflows.compiled import CompiledTree
from workflows.compiler import compile_tree
from workflows.workflow import DecisionTreeWorkflow

QUEUE = "bench-overhead"
OBSERVED_QUEUE = "bench-overhead-observed"
CODEC_QUEUE = "bench-overhead-codec"
QUEUES = {"treeflow": QUEUE, "instrumented": OBSERVED_QUEUE, "encrypted": CODEC_QUEUE}


class CountingExporter(SpanExporter):
    """Receives every exported span (batched, off the hot path) and only counts them."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Any) -> SpanExportResult:
        batch: list[ReadableSpan] = list(spans)
        self.spans += len(batch)
        return SpanExportResult.SUCCESS


class StepInput(BaseModel):
    value: int


class StepOutput(BaseModel):
    value: int


@tool(name="bench_step", version="1.0.0")
async def bench_step(args: StepInput, ctx: ToolContext) -> StepOutput:
    """One unit of work: add one."""
    return StepOutput(value=args.value + 1)


def chain_tree(steps: int) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    for index in range(steps):
        previous = f"{{{{ results.s{index - 1}.value }}}}" if index else 0
        last = index == steps - 1
        nodes[f"s{index}"] = {
            "kind": "tool",
            "tool": "bench_step@^1",
            "args": {"value": previous},
            "next": "done" if last else f"check{index}",
        }
        if not last:
            nodes[f"check{index}"] = {
                "kind": "decision",
                "strategy": "rules",
                "branches": [
                    {"to": "done", "when": f"results.s{index}.value < 0"},
                    {"to": f"s{index + 1}"},
                ],
            }
    nodes["done"] = {"kind": "end", "output": {"value": f"{{{{ results.s{steps - 1}.value }}}}"}}
    return {"name": "bench-chain", "start": "s0", "nodes": nodes}


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    runs: int = 0

    @property
    def wall(self) -> float:
        return sum(self.walls)


async def run_batch(
    client: Client, kind: str, compiled: CompiledTree, steps: int, count: int, concurrency: int
) -> tuple[list[float], float, list[str]]:
    gate = asyncio.Semaphore(concurrency)
    ids: list[str] = []

    async def one() -> float:
        async with gate:
            started = time.perf_counter()
            run_id = f"bench-{kind}-{uuid.uuid4().hex}"
            ids.append(run_id)
            if kind in QUEUES:
                queue = QUEUES[kind]
                handle = await client.start_workflow(
                    DecisionTreeWorkflow.run,
                    run_request(compiled, {}, "bench"),
                    **start_options(
                        compiled, tenant_id="bench", workflow_id=run_id, task_queue=queue
                    ),
                )
                result = await handle.result()
                assert result.output["value"] == steps
            else:
                value = await client.execute_workflow(
                    HandWrittenChain.run, steps, id=run_id, task_queue=QUEUE
                )
                assert value["value"] == steps
            return time.perf_counter() - started

    started = time.perf_counter()
    latencies = await asyncio.gather(*(one() for _ in range(count)))
    return list(latencies), time.perf_counter() - started, ids


async def history_profile(client: Client, run_id: str) -> tuple[int, int]:
    events = [e async for e in client.get_workflow_handle(run_id).fetch_history_events()]
    activities = sum(
        1 for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    )
    return len(events), activities


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def measure(args: argparse.Namespace, address: str) -> float:
    registry = ToolRegistry.discover().add(bench_step)
    compiled = compile_tree(chain_tree(args.steps), registry)
    settings = TemporalSettings(address=address, task_queue=QUEUE)
    client = await Client.connect(**settings.connect_kwargs())
    samples = {"treeflow": Sample(), "handwritten": Sample()}
    last_ids: dict[str, str] = {}
    async with ToolHost(registry).running() as host:
        worker = build_worker(
            client, WorkerSettings(), QUEUE, host, extra_workflows=[HandWrittenChain]
        )
        async with worker:
            for kind in samples:  # warm up both paths (sandbox, caches, connections)
                await run_batch(
                    client, kind, compiled, args.steps, args.concurrency, args.concurrency
                )
            per_round = max(1, args.runs // args.rounds)
            for round_index in range(args.rounds):
                order = ["treeflow", "handwritten"]
                if round_index % 2:
                    order.reverse()
                for kind in order:
                    latencies, wall, ids = await run_batch(
                        client, kind, compiled, args.steps, per_round, args.concurrency
                    )
                    samples[kind].latencies += latencies
                    samples[kind].walls.append(wall)
                    samples[kind].runs += per_round
                    last_ids[kind] = ids[-1]
    profiles = {kind: await history_profile(client, last_ids[kind]) for kind in samples}
    print(
        f"\n{args.steps}-step chain, {samples['treeflow'].runs} runs per kind, "
        f"concurrency {args.concurrency}, {args.rounds} alternating rounds\n"
    )
    print(
        f"{'':14}{'runs/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'events/run':>12}{'activities/run':>16}"
    )
    for kind, sample in samples.items():
        events, activities = profiles[kind]
        print(
            f"{kind:14}{sample.runs / sample.wall:10.1f}"
            f"{statistics.median(sample.latencies) * 1000:10.1f}"
            f"{percentile(sample.latencies, 0.99) * 1000:10.1f}{events:12d}{activities:16d}"
        )
    tf, hw = samples["treeflow"], samples["handwritten"]
    # Each round ran one batch of each kind back to back: the median of the paired
    # ratios ignores a burst of noise from the shared machine hitting one batch.
    ratio = statistics.median(t / h for t, h in zip(tf.walls, hw.walls, strict=True))
    total_ratio = tf.wall / hw.wall
    p50_ratio = statistics.median(tf.latencies) / statistics.median(hw.latencies)
    decisions = args.steps - 1
    print(
        f"\nrule decisions per run: {decisions} (activity tasks added by them: "
        f"{profiles['treeflow'][1] - profiles['handwritten'][1]})"
    )
    print(f"extra history events per run: {profiles['treeflow'][0] - profiles['handwritten'][0]}")
    print(f"p50 latency ratio: {p50_ratio:.3f}")
    print(f"wall-time ratio, all rounds summed: {total_ratio:.3f}")
    print(f"wall-time ratio, median of paired rounds: {ratio:.3f}  (target <= 1.10)")
    print(f"overhead_ratio={ratio:.4f}")
    return ratio


async def measure_instrumentation(args: argparse.Namespace, address: str) -> float:
    """Plain versus instrumented worker+client, alternating batches on one server."""
    registry = ToolRegistry.discover().add(bench_step)
    compiled = compile_tree(chain_tree(args.steps), registry)
    settings = TemporalSettings(address=address, task_queue=QUEUE)
    plain_client = await Client.connect(**settings.connect_kwargs())
    exporter = CountingExporter()
    provider = None if args.no_tracing else build_tracer_provider("bench", exporter=exporter)
    telemetry = WorkerTelemetry.build(
        tracer_provider=provider, temporal_metrics_address=f"127.0.0.1:{free_port()}"
    )
    observed_client = await Client.connect(
        **settings.connect_kwargs(), **telemetry.client_options()
    )
    clients = {"treeflow": plain_client, "instrumented": observed_client}
    samples = {"treeflow": Sample(), "instrumented": Sample()}
    async with (
        ToolHost(registry).running() as plain_host,
        ToolHost(registry, **telemetry.tool_host_options()).running() as observed_host,
    ):
        plain = build_worker(plain_client, WorkerSettings(), QUEUE, plain_host)
        observed = build_worker(
            observed_client,
            WorkerSettings(),
            OBSERVED_QUEUE,
            observed_host,
            interceptors=telemetry.worker_interceptors(),
        )
        async with plain, observed:
            for kind in samples:  # warm up both
                await run_batch(
                    clients[kind], kind, compiled, args.steps, args.concurrency, args.concurrency
                )
            per_round = max(1, args.runs // args.rounds)
            for round_index in range(args.rounds):
                order = ["treeflow", "instrumented"]
                if round_index % 2:
                    order.reverse()
                for kind in order:
                    latencies, wall, _ = await run_batch(
                        clients[kind], kind, compiled, args.steps, per_round, args.concurrency
                    )
                    samples[kind].latencies += latencies
                    samples[kind].walls.append(wall)
                    samples[kind].runs += per_round
    telemetry.shutdown()
    runs = telemetry.metrics.registry.get_sample_value(
        "treeflow_runs_completed_total",
        {"tenant": "bench", "tree": "bench-chain", "outcome": "completed"},
    )
    print(
        f"\n{args.steps}-step chain, {samples['treeflow'].runs} runs per kind, "
        f"concurrency {args.concurrency}, {args.rounds} alternating rounds"
    )
    print(f"instrumented side: {runs:.0f} runs counted, {exporter.spans} spans exported\n")
    print(f"{'':14}{'runs/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for kind, sample in samples.items():
        print(
            f"{kind:14}{sample.runs / sample.wall:10.1f}"
            f"{statistics.median(sample.latencies) * 1000:10.1f}"
            f"{percentile(sample.latencies, 0.99) * 1000:10.1f}"
        )
    on, off = samples["instrumented"], samples["treeflow"]
    ratio = statistics.median(o / p for o, p in zip(on.walls, off.walls, strict=True))
    print(f"\nwall-time ratio, all rounds summed: {on.wall / off.wall:.3f}")
    print(
        "p50 latency ratio: "
        f"{statistics.median(on.latencies) / statistics.median(off.latencies):.3f}"
    )
    print(f"wall-time ratio, median of paired rounds: {ratio:.3f}  (target <= 1.05)")
    print(f"instrumentation_ratio={ratio:.4f}")
    return ratio


async def measure_codec(args: argparse.Namespace, address: str) -> float:
    """Plain versus encrypted (payload codec) worker+client, alternating on one server."""
    registry = ToolRegistry.discover().add(bench_step)
    compiled = compile_tree(chain_tree(args.steps), registry)
    settings = TemporalSettings(address=address, task_queue=QUEUE)
    codec = TenantPayloadCodec(Keyring.from_encoded({"bench": Keyring.generate_key()}, "bench"))
    clients = {
        "treeflow": await Client.connect(**settings.connect_kwargs()),
        "encrypted": await Client.connect(**settings.connect_kwargs(codec)),
    }
    samples = {kind: Sample() for kind in clients}
    async with ToolHost(registry).running() as host:
        plain = build_worker(clients["treeflow"], WorkerSettings(), QUEUE, host)
        encrypted = build_worker(clients["encrypted"], WorkerSettings(), CODEC_QUEUE, host)
        async with plain, encrypted:
            for kind in samples:  # warm up both
                await run_batch(
                    clients[kind], kind, compiled, args.steps, args.concurrency, args.concurrency
                )
            per_round = max(1, args.runs // args.rounds)
            for round_index in range(args.rounds):
                order = (
                    ["treeflow", "encrypted"] if round_index % 2 == 0 else ["encrypted", "treeflow"]
                )
                for kind in order:
                    latencies, wall, _ = await run_batch(
                        clients[kind], kind, compiled, args.steps, per_round, args.concurrency
                    )
                    samples[kind].latencies += latencies
                    samples[kind].walls.append(wall)
                    samples[kind].runs += per_round
    print(
        f"\n{args.steps}-step chain, {samples['treeflow'].runs} runs per kind, "
        f"concurrency {args.concurrency}, {args.rounds} alternating rounds\n"
    )
    print(f"{'':14}{'runs/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for kind, sample in samples.items():
        print(
            f"{kind:14}{sample.runs / sample.wall:10.1f}"
            f"{statistics.median(sample.latencies) * 1000:10.1f}"
            f"{percentile(sample.latencies, 0.99) * 1000:10.1f}"
        )
    on, off = samples["encrypted"], samples["treeflow"]
    ratio = statistics.median(o / p for o, p in zip(on.walls, off.walls, strict=True))
    print(f"\nwall-time ratio, all rounds summed: {on.wall / off.wall:.3f}")
    print(
        "p50 latency ratio: "
        f"{statistics.median(on.latencies) / statistics.median(off.latencies):.3f}"
    )
    print(f"wall-time ratio, median of paired rounds: {ratio:.3f}  (target <= 1.05)")
    print(f"codec_ratio={ratio:.4f}")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200, help="runs per kind")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--address", help="use this Temporal server instead of starting one")
    parser.add_argument(
        "--compare",
        choices=["handwritten", "instrumentation", "codec"],
        default="handwritten",
        help="baseline: a hand-written workflow, or Treeflow without instrumentation "
        "or without the payload codec",
    )
    parser.add_argument(
        "--no-tracing",
        action="store_true",
        help="with --compare instrumentation: metrics only (to split the cost)",
    )
    args = parser.parse_args()
    run = {
        "handwritten": measure,
        "instrumentation": measure_instrumentation,
        "codec": measure_codec,
    }[args.compare]
    if args.address:
        asyncio.run(run(args, args.address))
    else:
        with DevServer(port=free_port(), ui_port=None).running() as server:
            asyncio.run(run(args, server.address))
    exit_now(0)


if __name__ == "__main__":
    main()

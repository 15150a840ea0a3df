"""Treeflow's worker versus a hand-written Temporal worker, on one server, one run.

Both run the same N-step chain of the same unit of work (`bench.chain`): Treeflow's
tree (a rule decision between steps) on Treeflow's worker as `treeflow worker` runs
it, and a hand-written `temporalio` workflow calling a plain activity on a plain
worker. Each worker is its own process (`bench.overhead_worker`), so the CPU each
side spends is read from its own process (psutil: user + system, all threads) around
each of its batches. Batches alternate side by side, at each concurrency level.

    python -m pip install -e ".[bench]"       # psutil (and py-spy for profiling)
    python -m bench.overhead [--steps 5] [--concurrency 10,100] [--rounds 6] [--batch 40]

Prints per side runs/s, p50/p99 latency, worker CPU ms per run, worker RSS and the
history (events, bytes) of one run; then per round the Treeflow / hand-written ratios
of throughput, CPU per run and p50, and their medians. Self-contained: starts its
own dev server unless `--address` points at one. Ends with `overhead_ratio=<float>`
(hand-written throughput / Treeflow's at the first level).

`--compare instrumentation` measures the cost of observability instead: the same
Treeflow chain on a plain worker and client (both in this process) versus an
instrumented pair (run,
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
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from bench.chain import bench_step, chain_tree
from bench.handwritten import HandWrittenChain
from bench.stats import percentile
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
HANDWRITTEN_QUEUE = "bench-overhead-handwritten"
WORKER_START_SECONDS = 60
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


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    runs: int = 0

    @property
    def wall(self) -> float:
        return sum(self.walls)


async def run_batch(
    client: Client,
    kind: str,
    compiled: CompiledTree,
    steps: int,
    count: int,
    concurrency: int,
    queue: str | None = None,
) -> tuple[list[float], float, list[str]]:
    gate = asyncio.Semaphore(concurrency)
    ids: list[str] = []

    async def one() -> float:
        async with gate:
            started = time.perf_counter()
            run_id = f"bench-{kind}-{uuid.uuid4().hex}"
            ids.append(run_id)
            if kind != "handwritten":
                handle = await client.start_workflow(
                    DecisionTreeWorkflow.run,
                    run_request(compiled, {}, "bench"),
                    **start_options(
                        compiled,
                        tenant_id="bench",
                        workflow_id=run_id,
                        task_queue=queue or QUEUES.get(kind, QUEUE),
                    ),
                )
                result = await handle.result()
                assert result.output["value"] == steps
            else:
                value = await client.execute_workflow(
                    HandWrittenChain.run, steps, id=run_id, task_queue=queue or HANDWRITTEN_QUEUE
                )
                assert value["value"] == steps
            return time.perf_counter() - started

    started = time.perf_counter()
    latencies = await asyncio.gather(*(one() for _ in range(count)))
    return list(latencies), time.perf_counter() - started, ids


@dataclass
class WorkerProcess:
    """One side's worker, in its own process so its CPU and memory are its own."""

    side: str
    queue: str
    popen: subprocess.Popen[bytes]
    process: psutil.Process

    @classmethod
    def start(
        cls, side: str, address: str, queue: str, logs: Path, checkout: Path | None = None
    ) -> WorkerProcess:
        """Start `side`; with `checkout`, Treeflow's worker from that source tree instead."""
        ready = logs / f"{side}.ready"
        variant, env, cwd = side, None, None
        if checkout is not None:
            # This checkout's bench package (the chain, the worker entry point) over the
            # other checkout's Treeflow modules.
            cwd = logs / "baseline"
            shutil.copytree(Path(__file__).parent, cwd / "bench", dirs_exist_ok=True)
            env = {**os.environ, "PYTHONPATH": str(checkout.resolve())}
            variant = "treeflow"
        cmd = [sys.executable, "-m", "bench.overhead_worker", "--side", variant]
        cmd += ["--address", address, "--queue", queue, "--ready-file", str(ready)]
        with (logs / f"{side}.log").open("w") as log:
            popen = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        deadline = time.monotonic() + WORKER_START_SECONDS
        while not ready.exists():
            if popen.poll() is not None or time.monotonic() > deadline:
                popen.kill()
                raise RuntimeError(f"the {side} worker did not start: see {logs / side}.log")
            time.sleep(0.1)
        return cls(side, queue, popen, psutil.Process(popen.pid))

    def cpu_seconds(self) -> float:
        """User + system CPU of the whole process (all threads, the SDK's core included)."""
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def profile(self, output: Path) -> subprocess.Popen[bytes]:
        """py-spy sampling this worker (without pausing it) until interrupted."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        cmd = [spy, "record", "--nonblocking", "--format", "raw", "--rate", "100"]
        cmd += ["--pid", str(self.popen.pid), "--output", str(output)]
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def rss_mb(self) -> float:
        return float(self.process.memory_info().rss) / 1e6

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


@dataclass
class SideSample:
    latencies: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    p50s: list[float] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    peak_rss_mb: float = 0.0


async def history_bytes(client: Client, run_id: str) -> tuple[int, int, int]:
    """(events, activity tasks, serialized bytes) of one run's history."""
    history = await client.get_workflow_handle(run_id).fetch_history()
    events = list(history.events)
    activities = sum(
        1 for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    )
    return len(events), activities, sum(e.ByteSize() for e in events)


async def measure_level(
    client: Client,
    workers: dict[str, WorkerProcess],
    compiled: CompiledTree,
    args: argparse.Namespace,
    concurrency: int,
) -> dict[str, float]:
    """Alternating rounds at one concurrency; prints the table and returns the ratios."""
    batch = max(args.batch, concurrency)
    samples = {kind: SideSample() for kind in workers}
    last_ids: dict[str, str] = {}
    for kind, worker in workers.items():  # warm up both (sandbox, caches, connections)
        await run_batch(client, kind, compiled, args.steps, batch, concurrency, worker.queue)
    spies = []
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        for kind, worker in workers.items():
            spies.append(worker.profile(args.profile / f"{kind}-c{concurrency}.txt"))
    for round_index in range(args.rounds):
        order = list(workers)
        if round_index % 2:
            order.reverse()
        for kind in order:
            worker = workers[kind]
            cpu_before = worker.cpu_seconds()
            latencies, wall, ids = await run_batch(
                client, kind, compiled, args.steps, batch, concurrency, worker.queue
            )
            sample = samples[kind]
            sample.cpus.append(worker.cpu_seconds() - cpu_before)
            sample.latencies += latencies
            sample.walls.append(wall)
            sample.p50s.append(statistics.median(latencies))
            sample.runs.append(batch)
            sample.peak_rss_mb = max(sample.peak_rss_mb, worker.rss_mb())
            last_ids[kind] = ids[-1]
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        spy.wait()
    if spies:
        print(f"py-spy profiles (collapsed stacks) in {args.profile}")
    profiles = {kind: await history_bytes(client, last_ids[kind]) for kind in workers}
    hw = samples["handwritten"]
    print(
        f"\n{args.steps}-step chain, concurrency {concurrency}, {args.rounds} alternating "
        f"rounds of {batch} runs per side (worker CPU read from each worker process)\n"
    )
    print(
        f"{'':16}{'runs/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/run':>12}{'RSS MB':>8}"
        f"{'events':>8}{'history B/run':>15}"
    )
    for kind, sample in samples.items():
        events, _, size = profiles[kind]
        print(
            f"{kind:16}{sum(sample.runs) / sum(sample.walls):8.1f}"
            f"{statistics.median(sample.latencies) * 1000:8.1f}"
            f"{percentile(sample.latencies, 0.99) * 1000:8.1f}"
            f"{sum(sample.cpus) / sum(sample.runs) * 1000:12.2f}"
            f"{sample.peak_rss_mb:8.0f}{events:8d}{size:15d}"
        )
    ratios: dict[str, float] = {}
    for kind, tf in samples.items():
        if kind == "handwritten":
            continue
        print(f"\n{'pair':>6}{'throughput':>12}{'CPU/run':>10}{'p50':>8}   ({kind} / hand-written)")
        pairs: dict[str, list[float]] = {"throughput": [], "cpu": [], "p50": []}
        for index in range(args.rounds):
            pairs["throughput"].append(hw.walls[index] / tf.walls[index])
            pairs["cpu"].append(tf.cpus[index] / hw.cpus[index])
            pairs["p50"].append(tf.p50s[index] / hw.p50s[index])
            print(
                f"{index + 1:6d}{pairs['throughput'][-1]:12.3f}{pairs['cpu'][-1]:10.3f}"
                f"{pairs['p50'][-1]:8.3f}"
            )
        medians = {name: statistics.median(values) for name, values in pairs.items()}
        print(
            f"{'median':>6}{medians['throughput']:12.3f}{medians['cpu']:10.3f}"
            f"{medians['p50']:8.3f}   (targets: >= 0.95, <= 1.10, <= 1.05)"
        )
        print(
            f"activity tasks added by {args.steps - 1} rule decisions: "
            f"{profiles[kind][1] - profiles['handwritten'][1]}"
        )
        label = "" if kind == "treeflow" else f"_{kind.replace('-', '_')}"
        print(
            f"throughput_ratio{label}_c{concurrency}={medians['throughput']:.4f} "
            f"cpu_ratio{label}_c{concurrency}={medians['cpu']:.4f} "
            f"p50_ratio{label}_c{concurrency}={medians['p50']:.4f}"
        )
        ratios = ratios or medians
    return ratios


async def measure(args: argparse.Namespace, address: str) -> float:
    """Treeflow's worker versus a plain worker, each in its own process, alternating."""
    registry = ToolRegistry.discover().add(bench_step)
    compiled = compile_tree(chain_tree(args.steps), registry)
    client = await Client.connect(**TemporalSettings(address=address).connect_kwargs())
    workers: dict[str, WorkerProcess] = {}
    logs = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    print(f"worker logs: {logs}")
    try:
        for side in args.sides:
            queue = HANDWRITTEN_QUEUE if side == "handwritten" else f"{QUEUE}-{side}"
            workers[side] = WorkerProcess.start(side, address, queue, logs)
        if args.baseline is not None:  # before/after a change, in the same run
            queue = f"{QUEUE}-baseline"
            workers["baseline"] = WorkerProcess.start(
                "baseline", address, queue, logs, args.baseline
            )
        first: float | None = None
        for concurrency in args.concurrency:
            ratios = await measure_level(client, workers, compiled, args, concurrency)
            first = ratios["throughput"] if first is None else first
    finally:
        for worker in workers.values():
            worker.stop()
    assert first is not None
    overhead = 1 / first
    print(f"overhead_ratio={overhead:.4f}")
    return overhead


async def alternate(
    clients: dict[str, Client], compiled: CompiledTree, args: argparse.Namespace
) -> dict[str, Sample]:
    """Warm up each kind, then ``args.runs`` runs per kind in ``args.rounds`` rounds; the
    two kinds take turns going first, so drift on the machine hits both alike."""
    samples = {kind: Sample() for kind in clients}
    for kind in samples:  # warm up both
        await run_batch(
            clients[kind], kind, compiled, args.steps, args.concurrency, args.concurrency
        )
    per_round = max(1, args.runs // args.rounds)
    for round_index in range(args.rounds):
        order = list(clients)
        if round_index % 2:
            order.reverse()
        for kind in order:
            latencies, wall, _ = await run_batch(
                clients[kind], kind, compiled, args.steps, per_round, args.concurrency
            )
            samples[kind].latencies += latencies
            samples[kind].walls.append(wall)
            samples[kind].runs += per_round
    return samples


def report_pair(samples: dict[str, Sample], compared: str, name: str) -> float:
    """Print each kind's rate and latency and how kind ``compared`` compares with plain
    ``treeflow``; the median of the paired rounds' wall-time ratios, printed as ``name``."""
    print(f"{'':14}{'runs/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for kind, sample in samples.items():
        print(
            f"{kind:14}{sample.runs / sample.wall:10.1f}"
            f"{statistics.median(sample.latencies) * 1000:10.1f}"
            f"{percentile(sample.latencies, 0.99) * 1000:10.1f}"
        )
    on, off = samples[compared], samples["treeflow"]
    ratio = statistics.median(o / p for o, p in zip(on.walls, off.walls, strict=True))
    print(f"\nwall-time ratio, all rounds summed: {on.wall / off.wall:.3f}")
    print(
        "p50 latency ratio: "
        f"{statistics.median(on.latencies) / statistics.median(off.latencies):.3f}"
    )
    print(f"wall-time ratio, median of paired rounds: {ratio:.3f}  (target <= 1.05)")
    print(f"{name}={ratio:.4f}")
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
            samples = await alternate(clients, compiled, args)
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
    return report_pair(samples, "instrumented", "instrumentation_ratio")


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
    async with ToolHost(registry).running() as host:
        plain = build_worker(clients["treeflow"], WorkerSettings(), QUEUE, host)
        encrypted = build_worker(clients["encrypted"], WorkerSettings(), CODEC_QUEUE, host)
        async with plain, encrypted:
            samples = await alternate(clients, compiled, args)
    print(
        f"\n{args.steps}-step chain, {samples['treeflow'].runs} runs per kind, "
        f"concurrency {args.concurrency}, {args.rounds} alternating rounds\n"
    )
    return report_pair(samples, "encrypted", "codec_ratio")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument(
        "--runs", type=int, default=200, help="runs per kind (--compare instrumentation/codec)"
    )
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds")
    parser.add_argument(
        "--batch",
        type=int,
        default=40,
        help="runs per side per round against the hand-written worker (at least the concurrency)",
    )
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(part) for part in text.split(",")],
        default=None,
        help="comma-separated levels, e.g. 10,100 (default 10,100 against the hand-written "
        "worker, 10 otherwise)",
    )
    parser.add_argument(
        "--sides",
        type=lambda text: text.split(","),
        default=["treeflow", "handwritten"],
        help="worker variants (bench.overhead_worker --side) compared with handwritten",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (e.g. of main): its Treeflow worker runs as side `baseline`",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="directory: py-spy samples both workers during each level (collapsed stacks)",
    )
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
    handwritten = args.compare == "handwritten"
    args.rounds = args.rounds or (6 if handwritten else 10)
    args.concurrency = args.concurrency or ([10, 100] if handwritten else [10])
    if not handwritten:
        args.concurrency = args.concurrency[0]
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

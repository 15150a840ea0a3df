"""Retrieval at scale on the embedded store: load, disk, indexed latency, preprocessing RSS.

Usage::

    .venv/bin/python -m bench.retrieval_scale [--sizes 100000,300000,1000000]
        [--runs 200] [--repeats 3] [--dir DIR] [--keep]

For each size the bench generates support tickets from a seed
(``activities.data.tickets``, seed 7; nothing is committed), writes them in batches
into a fresh embedded store under ``DIR/.treeflow/retrieval-<N>`` (default ``DIR``: a
temporary directory, removed afterwards unless ``--keep``) with the product's
embedder (``HashingEmbedder``, the embedded store's default), then:

1. times ``--runs`` calls of each operation with only the indexes writes maintain
   (the full-text index; vector search exact): the baseline, measured in the same run;
2. builds the indexes exactly as ``treeflow data load`` does
   (``loader.build_indexes``: reference-id B-tree, full-text, IVF-SQ vector index)
   and reports the build time and the store's size on disk;
3. times the same operations ``--repeats`` times with the indexes, prints each
   repeat's p50/p99 and the ratio to the baseline, and the recall@10 of indexed
   semantic search against exact search;
4. runs ``preprocess_collection`` (sample 200 and 5,000) in a fresh child process and
   prints that process's peak RSS next to the peak of a child that only imports.

Load time covers generation, embedding and writing (``treeflow data load`` adds
file parsing). A 1M-ticket store takes about 4.2 GB of disk right after the index build
(2.2 GB once old versions are cleaned up); check ``df -h`` first.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lancedb.index import FTS

from activities.backends.embedded import EmbeddedBackend
from activities.backends.loader import build_indexes, to_records
from activities.data import SUPPORT_TICKETS
from activities.data.tickets import generate_tickets
from bench import retrieval_ops
from bench.retrieval_ops import QUERIES, Operation, search_request
from bench.stats import percentile

COLLECTION = "Tickets"
BATCH = 5_000
SEED = 7
TARGETS_MS = {"query p50": 50.0, "aggregate p50": 100.0}
TARGET_PREPROCESS_RSS_MB = 500.0

SCALE_OPERATIONS = (
    "hybrid",
    "semantic",
    "keyword",
    "hybrid+filter",
    "aggregate grouped",
    "aggregate count",
)
"""The operations of ``bench.retrieval_ops`` timed at scale, in report order."""


def operations() -> dict[str, Operation]:
    """The timed operations; ``i`` varies the query or filter per call."""
    every = retrieval_ops.operations(COLLECTION)
    return {label: every[label] for label in SCALE_OPERATIONS}


async def time_ops(store: EmbeddedBackend, runs: int) -> dict[str, tuple[float, float]]:
    """(p50, p99) in ms per operation over ``runs`` sequential calls after 5 warm-ups."""
    out = {}
    for label, op in operations().items():
        for i in range(5):
            await op(store, i)
        times = []
        for i in range(runs):
            started = time.perf_counter()
            await op(store, i)
            times.append((time.perf_counter() - started) * 1000)
        out[label] = (percentile(times, 0.5), percentile(times, 0.99))
    return out


async def load(store: EmbeddedBackend, size: int) -> float:
    """Generate and write ``size`` tickets in batches; seconds taken."""
    started = time.perf_counter()
    await store.create_collection(
        COLLECTION, SUPPORT_TICKETS.properties, vectorize=SUPPORT_TICKETS.vectorize
    )
    tickets = generate_tickets(size, SEED)
    async with store.deferred_indexes():  # as `treeflow data load` writes
        while chunk := list(itertools.islice(tickets, BATCH)):
            records = to_records(chunk, SUPPORT_TICKETS.properties, id_field="ticket_id")
            await store.upsert(COLLECTION, records)
    return time.perf_counter() - started


async def recall_at_10(store: EmbeddedBackend) -> float:
    """Mean overlap of indexed and exact top-10 semantic hits over the bench queries."""
    exact = EmbeddedBackend(store._path)
    table = await exact._table(await exact._meta(COLLECTION), None)
    embedder = exact._embedder
    overlaps = []
    for text in QUERIES:
        hits = await store.search(COLLECTION, search_request("semantic", QUERIES.index(text)))
        vector = (await embedder.embed([text]))[0]
        query = table.query().nearest_to(vector).distance_type("cosine").bypass_vector_index()
        rows = (
            (await query.select(["_ref", "_distance"]).limit(10).to_arrow())
            .column("_ref")
            .to_pylist()
        )
        overlaps.append(len({h.id for h in hits.hits} & set(rows)) / 10)
    await exact.close()
    return statistics.fmean(overlaps)


def peak_rss_mb() -> float:
    """This process's peak resident set (MB): VmHWM, which starts afresh at exec.

    ``ru_maxrss`` would not do here: a child inherits the parent's high-water mark
    through fork, so every child of the loaded bench process reported the bench's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def disk_mb(path: Path) -> float:
    """Bytes under ``path`` in MB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def preprocess_rss(path: Path, sample_size: int) -> dict[str, float]:
    """Peak RSS (MB) of a child process running ``preprocess_collection`` on the store."""
    command = [sys.executable, "-m", "bench.retrieval_scale", "--preprocess", str(path)]
    done = subprocess.run(
        [*command, "--sample-size", str(sample_size)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def _preprocess_child(path: Path, sample_size: int) -> dict[str, float]:
    from activities.builtin.preprocess import PreprocessCollection, PreprocessInput
    from activities.sdk import ToolContext

    config = {"retrieval": {"kind": "embedded", "path": str(path)}}
    tool = PreprocessCollection()
    await tool.startup(config)
    ctx = ToolContext.for_testing(PreprocessCollection, config=config)
    await (await tool.backend(ctx)).describe(COLLECTION)  # the store opened: the baseline
    before = peak_rss_mb()
    started = time.perf_counter()
    out = await tool.run(
        PreprocessInput(collection=COLLECTION, sample_size=sample_size, use_llm=False), ctx
    )
    seconds = time.perf_counter() - started
    await tool.shutdown()
    return {
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
        "seconds": seconds,
        "sampled": float(out.profile.sampled),
    }


def _print_ops(title: str, figures: dict[str, tuple[float, float]]) -> None:
    print(
        f"  {title}: " + ", ".join(f"{k} {p50:.1f}/{p99:.1f}" for k, (p50, p99) in figures.items())
    )


async def bench_size(
    root: Path, size: int, runs: int, repeats: int, *, reuse: bool = False, baseline_runs: int = 50
) -> dict[str, Any]:
    """Every figure for one size; prints as it goes."""
    path = root / ".treeflow" / f"retrieval-{size}"
    if reuse and (path / "_collections" / f"{COLLECTION}.json").exists():
        store, load_s = EmbeddedBackend(path), float("nan")  # load not measured
    else:
        shutil.rmtree(path, ignore_errors=True)
        store = EmbeddedBackend(path)
        load_s = await load(store, size)
    print(f"\n{size:,} tickets: load {load_s:.1f} s, {disk_mb(path):,.0f} MB before indexes")
    table = await store._table(await store._meta(COLLECTION), None)
    if not await table.list_indices():  # the baseline: what writes maintained before
        await table.create_index("_fts", config=FTS(with_position=False))
    baseline = await time_ops(store, baseline_runs) if baseline_runs else {}
    _print_ops("baseline (full-text index only) p50/p99 ms", baseline)
    started = time.perf_counter()
    indexed = await build_indexes(store, COLLECTION)
    index_s = time.perf_counter() - started
    stats = await table.stats()
    index_mb = sum(i.size_bytes or 0 for i in await table.list_indices()) / 1e6
    print(
        f"  indexes {', '.join(indexed)}: {index_s:.1f} s; table {stats['total_bytes'] / 1e6:,.0f}"
        f" MB + indexes {index_mb:,.0f} MB; directory {disk_mb(path):,.0f} MB (old versions"
        " are kept for KEEP_OLD_VERSIONS)"
    )
    rounds = []
    for n in range(repeats):
        figures = await time_ops(store, runs)
        rounds.append(figures)
        _print_ops(f"indexed, repeat {n + 1} p50/p99 ms", figures)
    recall = await recall_at_10(store)
    await store.close()
    print(f"  recall@10 of indexed semantic search vs exact: {recall:.2f}")
    medians = {k: statistics.median(r[k][0] for r in rounds) for k in baseline or rounds[0]}
    for label, p50 in medians.items():
        base = baseline.get(label, (math.nan, math.nan))[0]
        print(f"  {label:<18} p50 {p50:7.1f} ms  baseline {base:7.1f} ms  ratio {p50 / base:.2f}")
    rss = {n: preprocess_rss(path, n) for n in (200, 5_000)}
    for n, child in rss.items():
        print(
            f"  preprocess sample {n}: peak RSS {child['peak_rss_mb']:.0f} MB "
            f"(store opened, before sampling: {child['rss_before_mb']:.0f} MB), "
            f"{child['seconds']:.2f} s"
        )
    return {
        "table_mb": stats["total_bytes"] / 1e6,
        "index_mb": index_mb,
        "size": size,
        "load_s": load_s,
        "index_s": index_s,
        "disk_mb": disk_mb(path),
        "baseline": baseline,
        "rounds": rounds,
        "recall": recall,
        "preprocess": rss,
    }


def main() -> int:
    """Run the ladder of sizes (or, with ``--preprocess``, the child that measures RSS)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where .treeflow/ goes (default: temp)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated stores")
    parser.add_argument(
        "--baseline-runs", type=int, default=50, help="calls per baseline operation (0: skip)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="query stores kept by --keep instead of loading"
    )
    parser.add_argument("--preprocess", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--sample-size", type=int, default=200, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.preprocess is not None:
        print(json.dumps(asyncio.run(_preprocess_child(args.preprocess, args.sample_size))))
        return 0
    root = args.dir or Path(tempfile.mkdtemp(prefix="treeflow-scale-"))
    try:
        results = [
            asyncio.run(
                bench_size(
                    root,
                    int(s),
                    args.runs,
                    args.repeats,
                    reuse=args.reuse,
                    baseline_runs=args.baseline_runs,
                )
            )
            for s in args.sizes.split(",")
        ]
        print("\n" + json.dumps(results))
    finally:
        if not args.keep:
            shutil.rmtree(root / ".treeflow", ignore_errors=True)
            if args.dir is None:
                shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

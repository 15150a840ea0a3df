"""One side of `bench.overhead` as its own worker process, so its CPU can be measured alone.

    python -m bench.overhead_worker --side treeflow|treeflow-plain|handwritten \
        --address HOST:PORT \
        --queue Q --ready-file F

`treeflow` runs Treeflow's worker exactly as `treeflow worker` does (`run_worker`:
metrics, per-version tool queues, the tool host) with the `bench_step` tool added
and payloads unencrypted (as on the hand-written side); `handwritten` runs a plain
`temporalio` worker hosting `HandWrittenChain` and a plain activity, with the same
slot and cache sizes; `treeflow-plain` (to split the cost) hosts Treeflow's workflow
and tool host on one worker without telemetry or per-version queues; `treeflow-uncached`
decodes every run's compiled tree again (what `workflows.tree_cache` saves). Writes
`--ready-file` once polling and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from activities.sdk import no_secrets
from bench.chain import bench_step, handwritten_step
from bench.handwritten import HandWrittenChain
from foundation.secrets.settings import SecretsSettings
from temporal_client.connection import TemporalSettings
from treeflow.exit import exit_now
from worker.runner import build_worker, run_worker
from worker.settings import WorkerSettings


async def serve_treeflow(address: str, queue: str, ready_file: str) -> None:
    ready = asyncio.Event()
    stop = asyncio.Event()

    async def announce() -> None:
        await ready.wait()
        Path(ready_file).write_text("ready")

    announcer = asyncio.create_task(announce())
    await run_worker(
        WorkerSettings(),
        TemporalSettings(address=address, task_queue=queue),
        registry=ToolRegistry.discover().add(bench_step),
        secrets=no_secrets,
        # payloads in the clear on both sides (`--compare codec` measures encryption)
        secrets_settings=SecretsSettings(payload_encryption=False),
        stop=stop,
        ready=ready,
    )
    announcer.cancel()


async def serve_treeflow_plain(address: str, queue: str, ready_file: str) -> None:
    """Treeflow's workflow and tool host on one worker, without telemetry or version queues."""
    client = await Client.connect(**TemporalSettings(address=address).connect_kwargs())
    stop = _stop_on_signal()
    async with (
        ToolHost(ToolRegistry.discover().add(bench_step)).running() as host,
        build_worker(client, WorkerSettings(), queue, host),
    ):
        Path(ready_file).write_text("ready")
        await stop.wait()


def _stop_on_signal() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def serve_handwritten(address: str, queue: str, ready_file: str) -> None:
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    defaults = WorkerSettings()
    stop = _stop_on_signal()
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[HandWrittenChain],
        activities=[handwritten_step],
        max_concurrent_activities=defaults.max_concurrent_activities,
        max_concurrent_workflow_tasks=defaults.max_concurrent_workflow_tasks,
        max_cached_workflows=defaults.max_cached_workflows,
        workflow_task_poller_behavior=PollerBehaviorSimpleMaximum(defaults.workflow_task_pollers),
        activity_task_poller_behavior=PollerBehaviorSimpleMaximum(defaults.activity_task_pollers),
    )
    async with worker:
        Path(ready_file).write_text("ready")
        await stop.wait()


async def serve_treeflow_uncached(address: str, queue: str, ready_file: str) -> None:
    """`treeflow` decoding every run's compiled tree again (the cost before tree_cache)."""
    from workflows import tree_cache  # here: a baseline checkout may not have it

    tree_cache._decoded = tree_cache._decoded.__wrapped__  # type: ignore[assignment]
    await serve_treeflow(address, queue, ready_file)


SIDES = {
    "treeflow": serve_treeflow,
    "treeflow-uncached": serve_treeflow_uncached,
    "treeflow-plain": serve_treeflow_plain,
    "handwritten": serve_handwritten,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--side", choices=sorted(SIDES), required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--ready-file", required=True, help="written once the worker polls")
    args = parser.parse_args()
    asyncio.run(SIDES[args.side](args.address, args.queue, args.ready_file))
    sys.stdout.flush()
    exit_now(0)


if __name__ == "__main__":
    main()

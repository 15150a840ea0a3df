"""Recovery after `kill -9` of a worker: how long until its in-flight tool calls resume.

Two configurations on one dev server, same tree, same load (`--runs` five-step runs
on one worker process, killed mid-way, a second process finishing them):

* baseline: every node's heartbeat timeout equal to its 60 s start-to-close timeout,
  which is how calls behaved before tool calls had a heartbeat timeout: a dead
  worker's call is noticed only when start-to-close expires;
* default: the platform defaults (10 s heartbeat timeout, the tool host beating for
  every running tool).

    python -m bench.worker_recovery --runs 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid

from temporalio.client import Client

from activities.registry import ToolRegistry
from temporal_client.connection import TemporalSettings
from tests.support.processes import WorkerProcess
from tests.support.recovery import Recovery, chain, crash_and_recover
from tests.support.tools import TEST_TOOLS
from treeflow.devserver import DevServer, free_port
from treeflow.exit import exit_now
from workflows.activity_defaults import DEFAULT_TOOL_TIMEOUT_SECONDS

CONFIGURATIONS = {
    "baseline (no effective heartbeat)": {"heartbeat_timeout": DEFAULT_TOOL_TIMEOUT_SECONDS},
    "default": {},
}


async def run(address: str, runs: int) -> None:
    client = await Client.connect(**TemporalSettings(address=address).connect_kwargs())
    registry = ToolRegistry.discover().add(TEST_TOOLS)
    figures: dict[str, Recovery] = {}
    for label, options in CONFIGURATIONS.items():
        queue = f"recovery-{uuid.uuid4().hex[:8]}"
        pool: list[WorkerProcess] = []

        def spawn(name: str, queue: str = queue, pool: list[WorkerProcess] = pool) -> WorkerProcess:
            process = WorkerProcess(address, queue, name)
            pool.append(process)
            return process.start(ready_timeout=120)

        try:
            figures[label] = await crash_and_recover(
                client, registry, spawn, queue, chain(**options), runs
            )
        finally:
            for process in pool:
                process.stop()
        print(f"{label}: {figures[label].summary()}", flush=True)
    base, new = (figures[label] for label in CONFIGURATIONS)
    print(
        json.dumps(
            {
                "runs": runs,
                "baseline_p50_s": round(base.percentile(0.5), 2),
                "baseline_p95_s": round(base.percentile(0.95), 2),
                "default_p50_s": round(new.percentile(0.5), 2),
                "default_p95_s": round(new.percentile(0.95), 2),
                "p50_ratio": round(new.percentile(0.5) / base.percentile(0.5), 3),
            }
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with DevServer(port=free_port(), ui_port=None).running() as server:
        asyncio.run(run(server.address, args.runs))
    exit_now(0)


if __name__ == "__main__":
    main()

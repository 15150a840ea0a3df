"""Run event streams: 200 concurrent SSE clients on one API process.

Starts its own Temporal dev server, one `treeflow worker` process and the API (one
uvicorn process), starts `--streams` runs of a tree that first waits for input and
then runs three tool steps, and opens one `GET .../runs/{key}/events` stream per run.
It measures, in the same run:

* the API process's CPU seconds over `--idle-seconds` with no stream open (the
  baseline), then with every stream open and idle (the runs wait for input);
* the delay from a step's completion in Temporal (the `ActivityTaskCompleted` event
  time) to its `step.completed` event reaching the client, p50/p99; next to it the
  floor, the delay to the workflow task that recorded the step (its
  `WorkflowTaskCompleted` event time): the stream cannot be earlier than that.

    .venv/bin/python -m bench.event_streams [--streams 200] [--idle-seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.harness import UNLIMITED_RUNS, api_env, bench_world, free_port, serve, start_worker, stop
from treeflow.devserver import DevServer

TREE = """name: bench-events
start: ask
nodes:
  ask: {kind: input, prompt: "go?", save_as: go, timeout: 1h, next: t1}
  t1: {kind: tool, tool: text_response@^1, args: {text: one}, next: t2}
  t2: {kind: tool, tool: text_response@^1, args: {text: two}, next: t3}
  t3: {kind: tool, tool: text_response@^1, args: {text: three}, next: done}
  done: {kind: end}
"""
TOOL_NODES = ("t1", "t2", "t3")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


class Stream:
    """One SSE client: records when each step.completed event arrived."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.url = url
        self.http = http
        self.waiting = asyncio.Event()
        self.completed_at: dict[str, float] = {}
        self.ended = asyncio.Event()

    async def run(self) -> None:
        event: str | None = None
        async with self.http.stream("GET", self.url) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event is not None:
                    node = json.loads(line[6:]).get("node")
                    if event == "input.requested":
                        self.waiting.set()
                    elif event == "step.completed" and node in TOOL_NODES:
                        self.completed_at[node] = time.time()
                    elif event == "run.ended":
                        self.ended.set()
                        return


async def history_times(
    client: Client, workflow_id: str
) -> tuple[dict[str, float], dict[str, float]]:
    """Per tool node: when its activity completed, and when the next workflow task did."""
    events = [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]
    completed: list[float] = []
    recorded: list[float] = []
    waiting_for_task = False
    for event in events:
        at = event.event_time.ToDatetime().timestamp()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completed.append(at)
            waiting_for_task = True
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and waiting_for_task:
            recorded.append(at)
            waiting_for_task = False
    return dict(zip(TOOL_NODES, completed, strict=False)), dict(
        zip(TOOL_NODES, recorded, strict=False)
    )


async def measure(
    api: str, api_pid: int, address: str, tenant: str, jwt: str, streams: int, idle: float
) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {jwt}"}
    limits = httpx.Limits(max_connections=streams + 20, max_keepalive_connections=streams + 20)
    timeout = httpx.Timeout(60, read=120)
    async with httpx.AsyncClient(
        base_url=api, headers=auth, limits=limits, timeout=timeout
    ) as http:
        created = await http.post(f"/v1/tenants/{tenant}/trees", json={"source": TREE})
        created.raise_for_status()
        keys = [f"ev-{uuid.uuid4().hex[:10]}" for _ in range(streams)]
        for key in keys:
            started = await http.post(
                f"/v1/tenants/{tenant}/runs",
                json={"tree": "bench-events"},
                headers={"Idempotency-Key": key},
            )
            started.raise_for_status()
        before = cpu_seconds(api_pid)
        await asyncio.sleep(idle)
        baseline_cpu = cpu_seconds(api_pid) - before
        followers = [Stream(http, f"/v1/tenants/{tenant}/runs/{key}/events") for key in keys]
        tasks = [asyncio.create_task(f.run()) for f in followers]
        await asyncio.wait_for(asyncio.gather(*(f.waiting.wait() for f in followers)), 120)
        await asyncio.sleep(2)  # let the initial reads settle
        before = cpu_seconds(api_pid)
        await asyncio.sleep(idle)
        idle_cpu = cpu_seconds(api_pid) - before
        for key in keys:
            answered = await http.post(
                f"/v1/tenants/{tenant}/runs/{key}/input", json={"value": "yes"}
            )
            answered.raise_for_status()
        await asyncio.wait_for(asyncio.gather(*(f.ended.wait() for f in followers)), 300)
        await asyncio.gather(*tasks)
    client = await Client.connect(address)
    delays: list[float] = []
    floors: list[float] = []
    for key, follower in zip(keys, followers, strict=True):
        completed, recorded = await history_times(client, f"{tenant}:{key}")
        for node, seen in follower.completed_at.items():
            delays.append((seen - completed[node]) * 1000)
            floors.append((recorded[node] - completed[node]) * 1000)
    return {
        "streams": streams,
        "baseline_cpu_s": baseline_cpu,
        "idle_cpu_s": idle_cpu,
        "idle_seconds": idle,
        "delay_p50_ms": percentile(delays, 0.5),
        "delay_p99_ms": percentile(delays, 0.99),
        "floor_p50_ms": percentile(floors, 0.5),
        "floor_p99_ms": percentile(floors, 0.99),
        "samples": len(delays),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args()
    workdir, database_url, jwk, tenant, jwt, _ = bench_world("treeflow-streams-", UNLIMITED_RUNS)
    queue = f"streams-{uuid.uuid4().hex[:6]}"
    env = api_env(database_url, jwk, pool_size=None) | {
        "TREEFLOW_TEMPORAL_TASK_QUEUE": queue,
        "TREEFLOW_EVENT_STREAMS_PER_TENANT": str(args.streams + 10),
    }
    with DevServer(port=free_port(), ui_port=None).running() as dev:
        env["TREEFLOW_TEMPORAL_ADDRESS"] = dev.address
        api_port = free_port()
        worker = start_worker(dev.address, queue, env)
        api = serve(["--factory", "api.app:create_app"], api_port, env, ready_seconds=120)
        try:
            result = asyncio.run(
                measure(
                    f"http://127.0.0.1:{api_port}",
                    api.pid,
                    dev.address,
                    tenant,
                    jwt,
                    args.streams,
                    args.idle_seconds,
                )
            )
        finally:
            stop((api, worker))
    shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"{result['streams']} streams on one API process, {result['samples']} step events\n"
        f"API CPU over {result['idle_seconds']:g} s: {result['baseline_cpu_s']:.2f} s with no "
        f"stream (baseline), {result['idle_cpu_s']:.2f} s with every stream open and idle\n"
        f"step completed in Temporal -> event at the client: p50 {result['delay_p50_ms']:.0f} ms,"
        f" p99 {result['delay_p99_ms']:.0f} ms\n"
        f"floor (-> the workflow task that recorded it): p50 {result['floor_p50_ms']:.0f} ms, "
        f"p99 {result['floor_p99_ms']:.0f} ms"
    )


if __name__ == "__main__":
    main()

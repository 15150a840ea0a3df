"""One worker holding 1,000 runs that wait for input: its memory, and reading them through the API.

Starts its own Temporal dev server, one `treeflow worker` process and the API (one
uvicorn process, SQLite), starts `--runs` runs of a tree that waits for input through
the API, waits until every one is waiting, then prints:

* the worker's RSS before the runs and while it holds them all (target < 300 MB);
* the time to list them all through `GET /v1/tenants/{t}/runs` (pages of 200) and
  the latency of `GET .../runs/{key}` for each (an open run: a Temporal query at most
  every `open_run_cache_seconds`), as a baseline the bare `GET /v1/health`.

    python -m pip install -e ".[bench]"     # psutil
    python -m bench.waiting_runs [--runs 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

import httpx
import psutil

from bench.harness import (
    UNLIMITED_RUNS,
    api_env,
    bench_world,
    free_port,
    serve,
    start_worker,
    stop,
)
from bench.stats import percentile
from treeflow.devserver import DevServer
from treeflow.exit import exit_now

WAITING = """name: bench-wait
start: ask
nodes:
  ask: {kind: input, prompt: "go?", save_as: go, timeout: 1h, next: done}
  done: {kind: end}
"""
TARGET_RSS_MB = 300
START_CONCURRENCY = 20
PAGE = 200


async def start_runs(http: httpx.AsyncClient, runs_url: str, count: int) -> list[str]:
    gate = asyncio.Semaphore(START_CONCURRENCY)
    links: list[str] = []

    async def one(index: int) -> None:
        async with gate:
            answer = await http.post(
                runs_url, json={"tree": "bench-wait"}, headers={"Idempotency-Key": f"w-{index}"}
            )
            answer.raise_for_status()
            links.append(answer.json()["links"]["self"])

    await asyncio.gather(*(one(i) for i in range(count)))
    return links


async def list_all(http: httpx.AsyncClient, runs_url: str, status: str) -> tuple[int, float]:
    """(runs listed, seconds) for every page of runs in `status`."""
    started = time.perf_counter()
    listed, token = 0, None
    while True:
        params: dict[str, Any] = {"status": status, "limit": PAGE}
        if token:
            params["page_token"] = token
        page = (await http.get(runs_url, params=params)).raise_for_status().json()
        listed += len(page["runs"])
        token = page.get("next_page_token")
        if not token:
            return listed, time.perf_counter() - started


async def timed_gets(http: httpx.AsyncClient, urls: list[str]) -> list[float]:
    latencies: list[float] = []
    for url in urls:
        started = time.perf_counter()
        (await http.get(url)).raise_for_status()
        latencies.append(time.perf_counter() - started)
    return latencies


async def measure(api: str, tenant: str, jwt: str, worker: psutil.Process, count: int) -> None:
    auth = {"Authorization": f"Bearer {jwt}"}
    runs_url = f"/v1/tenants/{tenant}/runs"
    async with httpx.AsyncClient(base_url=api, headers=auth, timeout=60) as http:
        (
            await http.post(f"/v1/tenants/{tenant}/trees", json={"source": WAITING})
        ).raise_for_status()
        idle_rss = worker.memory_info().rss / 1e6
        began = time.perf_counter()
        links = await start_runs(http, runs_url, count)
        started_in = time.perf_counter() - began
        deadline = time.monotonic() + 600
        waiting = 0
        while time.monotonic() < deadline:
            waiting, _ = await list_all(http, runs_url, "waiting_input")
            if waiting >= count:
                break
            await asyncio.sleep(2)
        held_rss = worker.memory_info().rss / 1e6
        listed, list_seconds = await list_all(http, runs_url, "waiting_input")
        health = await timed_gets(http, ["/v1/health"] * 200)
        first = await timed_gets(http, links)
        again = await timed_gets(http, links)
    print(f"\n{count} runs waiting for input on one worker (started in {started_in:.1f} s)\n")
    print(f"worker RSS idle:               {idle_rss:8.0f} MB")
    print(
        f"worker RSS holding the runs:   {held_rss:8.0f} MB  (target < {TARGET_RSS_MB} MB; "
        f"{(held_rss - idle_rss) / count * 1000:.0f} kB per run)"
    )
    print(f"runs waiting (visibility):     {waiting:8d}")
    print(f"list all, pages of {PAGE}:       {list_seconds * 1000:8.0f} ms for {listed} runs")
    print(f"{'':31}{'p50 ms':>8}{'p99 ms':>8}")
    for name, values in (
        ("GET /v1/health (baseline)", health),
        ("get-run, first read", first),
        ("get-run, read again", again),
    ):
        print(
            f"{name:31}{statistics.median(values) * 1000:8.1f}"
            f"{percentile(values, 0.99) * 1000:8.1f}"
        )
    print(f"worker_rss_mb={held_rss:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    _, database_url, jwk, tenant, jwt, _ = bench_world("treeflow-waiting-", UNLIMITED_RUNS)
    queue = f"waiting-{uuid.uuid4().hex[:6]}"
    env = api_env(database_url, jwk, pool_size=None) | {"TREEFLOW_TEMPORAL_TASK_QUEUE": queue}
    with DevServer(port=free_port(), ui_port=None).running() as dev:
        env["TREEFLOW_TEMPORAL_ADDRESS"] = dev.address
        worker = start_worker(dev.address, queue, env)
        api_port = free_port()
        try:
            api = serve(["--factory", "api.app:create_app"], api_port, env)
        except RuntimeError:
            worker.kill()
            raise
        try:
            time.sleep(3)  # the worker connects and polls
            measure_run = measure(
                f"http://127.0.0.1:{api_port}", tenant, jwt, psutil.Process(worker.pid), args.runs
            )
            asyncio.run(measure_run)
        finally:
            stop((api, worker))
    exit_now(0)


if __name__ == "__main__":
    main()

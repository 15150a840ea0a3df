"""Start-run and get-run under load, against a running stack, versus a bare endpoint.

Starts its own Temporal dev server, one `treeflow worker` process, the API (one
uvicorn process) and a bare FastAPI app, then loads them with `wrk` at 50 and 200
concurrent connections, in the same run:

* bare FastAPI `GET /bare` (the baseline);
* authenticated get-run of a closed run (JWT; closed runs never change and are
  served without a Temporal call);
* authenticated get-run of an open run waiting for input (a Temporal query at most
  every `open_run_cache_seconds`);
* authenticated start-run (`POST .../runs`, a fresh Idempotency-Key per request:
  a database read, a Temporal start and a database insert).

    python -m bench.api_load [--seconds 10]
    python -m bench.api_load --starts-only --rounds 3 --seconds 30 --baseline ../main

`--baseline PATH` starts a second API from another checkout (its own database and
tenant) and measures its start-run beside this one's; `--rounds N` alternates the API
sides and the direct client N times per connection count, and the report prints each
API side's req/s over the direct client's of the same round and the API process's CPU
per completed start (the direct client's is this script's own).

Targets on the 2-core machine: start-run p99 < 100 ms at 50 connections, and get-run
at least 50% of the bare endpoint's req/s.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.harness import (
    UNLIMITED_RUNS,
    api_env,
    bench_world,
    ensure_wrk,
    free_port,
    seed,
    serve,
    start_worker,
    stop,
    wrk,
)
from treeflow.devserver import DevServer

TREE = """name: bench-hello
start: greet
nodes:
  greet: {kind: tool, tool: text_response@^1, args: {text: hello}, next: done}
  done: {kind: end}
"""
WAITING = """name: bench-wait
start: ask
nodes:
  ask: {kind: input, prompt: "go?", save_as: go, timeout: 1h, next: done}
  done: {kind: end}
"""
POST_SCRIPT = """
local counter = 0
local prefix = "%s"
request = function()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer %s"
  headers["Idempotency-Key"] = prefix .. "-" .. counter
  return wrk.format("POST", nil, headers, '{"tree": "bench-hello"}')
end
"""


async def paced_starts(
    api: str, tenant: str, jwt: str, clients: int, per_second: float, seconds: float
) -> dict[str, Any]:
    """Open loop: `clients` users, each starting one run every 1/per_second seconds."""
    latencies: list[float] = []
    errors = 0
    url = f"{api}/v1/tenants/{tenant}/runs"
    headers = {"Authorization": f"Bearer {jwt}"}
    deadline = time.monotonic() + seconds

    async def user(http: httpx.AsyncClient, offset: float) -> None:
        nonlocal errors
        await asyncio.sleep(offset)
        while time.monotonic() < deadline:
            tick = time.monotonic()
            started = time.perf_counter()
            answer = await http.post(
                url,
                json={"tree": "bench-hello"},
                headers={**headers, "Idempotency-Key": f"p-{uuid.uuid4().hex}"},
            )
            latencies.append(time.perf_counter() - started)
            errors += answer.status_code >= 300
            await asyncio.sleep(max(0.0, 1 / per_second - (time.monotonic() - tick)))

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await asyncio.gather(*(user(http, i / (clients * per_second)) for i in range(clients)))
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "non_2xx": float(errors),
    }


def _profile(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the API process (collapsed stacks) until interrupted."""
    output.parent.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    cmd = [spy, "record", "--nonblocking", "--format", "raw", "--rate", "100"]
    return subprocess.Popen(
        [*cmd, "--pid", str(pid), "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _post_script(workdir: Path, jwt: str) -> Path:
    """A wrk script whose every request carries a new Idempotency-Key."""
    prefix = uuid.uuid4().hex[:10]
    script = workdir / f"post-{prefix}.lua"
    script.write_text(POST_SCRIPT % (prefix, jwt))
    return script


def _setup(api: str, tenant: str, jwt: str) -> tuple[str, str]:
    """Two trees, one closed run and one run waiting for input; returns their URLs."""
    auth = {"Authorization": f"Bearer {jwt}"}
    with httpx.Client(base_url=api, headers=auth, timeout=30) as client:
        for source in (TREE, WAITING):
            created = client.post(f"/v1/tenants/{tenant}/trees", json={"source": source})
            created.raise_for_status()
        runs = f"/v1/tenants/{tenant}/runs"
        closed = client.post(runs, json={"tree": "bench-hello"}, headers={"Idempotency-Key": "c1"})
        closed.raise_for_status()
        open_run = client.post(runs, json={"tree": "bench-wait"}, headers={"Idempotency-Key": "o1"})
        open_run.raise_for_status()
        closed_url = api + closed.json()["links"]["self"]
        open_url = api + open_run.json()["links"]["self"]
        for _ in range(300):
            states = [client.get(url).json()["status"] for url in (closed_url, open_url)]
            if states == ["completed", "waiting_input"]:
                return closed_url, open_url
            time.sleep(0.1)
    raise RuntimeError(f"setup runs did not settle: {states}")


async def direct_starts(
    address: str, queue: str, tenant: str, concurrency: int, seconds: float
) -> dict[str, Any]:
    """The floor: the same workflow started straight through the Temporal client."""
    from temporalio.client import Client

    from temporal_client.connection import TemporalSettings
    from temporal_client.run_start import run_request, start_options
    from treeflow.toolbox import compile_text
    from workflows.workflow import DecisionTreeWorkflow

    settings = TemporalSettings(address=address, task_queue=queue)
    client = await Client.connect(**settings.connect_kwargs())
    compiled = compile_text(TREE)
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def loop() -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await client.start_workflow(
                DecisionTreeWorkflow.run,
                run_request(compiled, {}, tenant),
                **start_options(
                    compiled,
                    tenant_id=tenant,
                    workflow_id=f"{tenant}:d-{uuid.uuid4().hex}",
                    task_queue=queue,
                ),
            )
            latencies.append(time.perf_counter() - started)

    begun = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    elapsed = time.perf_counter() - begun
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "requests": len(latencies),
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "non_2xx": 0.0,
    }


@dataclass
class StartSide:
    """An API whose start-run is measured: this checkout's, or a baseline checkout's."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    jwt: str


def _measure_start(
    side: StartSide, workdir: Path, connections: int, seconds: int
) -> dict[str, Any]:
    """wrk on the side's start-run; adds the API process's CPU ms per completed start."""
    cpu = psutil.Process(side.process.pid)
    wrk(side.url, 4, 1, None, _post_script(workdir, side.jwt))  # warm the connections
    before = cpu.cpu_times()
    result = wrk(side.url, connections, seconds, None, _post_script(workdir, side.jwt))
    after = cpu.cpu_times()
    spent = (after.user - before.user) + (after.system - before.system)
    result["cpu_ms"] = spent * 1000 / max(1.0, result["requests"])
    return result


def _measure_direct(
    address: str, queue: str, tenant: str, connections: int, seconds: int
) -> dict[str, Any]:
    """The Temporal client's starts from this process; its CPU ms per start."""
    cpu = psutil.Process()
    before = cpu.cpu_times()
    result = asyncio.run(direct_starts(address, queue, tenant, connections, seconds))
    after = cpu.cpu_times()
    spent = (after.user - before.user) + (after.system - before.system)
    result["cpu_ms"] = spent * 1000 / max(1, result["requests"])
    return result


def _start_rounds(
    sides: list[StartSide],
    direct: Any,
    workdir: Path,
    args: argparse.Namespace,
    results: list[tuple[str, int, dict[str, Any]]],
) -> None:
    """Per connection count, the API sides and the direct client alternate `--rounds`
    times, the order rotating each round (each case leaves a backlog of runs that the
    worker still executes during the next one)."""
    for connections in args.connections:
        for round_ in range(args.rounds):
            order: list[StartSide | None] = [*sides, None]  # None: the direct client
            shift = round_ % len(order)
            for side in order[shift:] + order[:shift]:
                if side is None:
                    measured, name = direct(connections), "start, Temporal direct"
                else:
                    measured, name = _profiled_start(side, workdir, connections, args)
                measured["round"] = round_
                results.append((name, connections, measured))


def _profiled_start(
    side: StartSide, workdir: Path, connections: int, args: argparse.Namespace
) -> tuple[dict[str, Any], str]:
    spy = None
    if args.profile is not None:
        out = args.profile / f"{side.name}-c{connections}-{time.monotonic_ns()}.txt"
        spy = _profile(side.process.pid, out)
    measured = _measure_start(side, workdir, connections, args.seconds)
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait()
    return measured, f"start-run ({side.name})"


def _read_cases(
    api: str, bare_port: int, tenant: str, jwt: str, args: argparse.Namespace
) -> list[tuple[str, int, dict[str, Any]]]:
    """The bare endpoint and the get-run cases at each connection count."""
    closed_url, open_url = _setup(api, tenant, jwt)
    auth = f"Authorization: Bearer {jwt}"
    # First, before any flood leaves a backlog: 50 users at one start a second.
    paced = asyncio.run(paced_starts(api, tenant, jwt, 50, 1.0, args.seconds))
    results: list[tuple[str, int, dict[str, Any]]] = [("start-run, 50 users 1/s", 50, paced)]
    for connections in args.connections:
        cases = [
            ("bare FastAPI GET", f"http://127.0.0.1:{bare_port}/bare"),
            ("get-run, closed run", closed_url),
            ("get-run, open run", open_url),
        ]
        for name, url in cases:
            header = None if name.startswith("bare") else auth
            wrk(url, 4, 1, header)
            results.append((name, connections, wrk(url, connections, args.seconds, header)))
    return results


def _baseline_side(
    checkout: Path, workdir: Path, jwk: str, quotas: dict[str, object], env: dict[str, str]
) -> StartSide:
    """The API of another checkout, with a database and tenant of its own."""
    database_url = f"sqlite+aiosqlite:///{workdir}/baseline.db"
    tenant, jwt, _ = asyncio.run(seed(database_url, jwk, quotas))
    port = free_port()
    side_env = env | {"TREEFLOW_DATABASE_URL": database_url}
    process = serve(["--factory", "api.app:create_app"], port, side_env, cwd=checkout.resolve())
    api = f"http://127.0.0.1:{port}"
    _setup(api, tenant, jwt)
    return StartSide("baseline", process, f"{api}/v1/tenants/{tenant}/runs", jwt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, nargs="+", default=[50, 200])
    parser.add_argument(
        "--profile", type=Path, help="directory: py-spy samples the API during start-run"
    )
    parser.add_argument(
        "--baseline", type=Path, help="another checkout (e.g. ../main): its API's start-run too"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="start-run rounds per connection count"
    )
    parser.add_argument(
        "--starts-only", action="store_true", help="skip the bare and get-run cases"
    )
    args = parser.parse_args()
    ensure_wrk()
    quotas = UNLIMITED_RUNS
    workdir, database_url, jwk, tenant, jwt, _ = bench_world("treeflow-load-", quotas)
    queue = f"load-{uuid.uuid4().hex[:6]}"
    env = api_env(database_url, jwk) | {"TREEFLOW_TEMPORAL_TASK_QUEUE": queue}
    results: list[tuple[str, int, dict[str, Any]]] = []
    with DevServer(port=free_port(), ui_port=None).running() as dev:
        env["TREEFLOW_TEMPORAL_ADDRESS"] = dev.address
        api_port, bare_port = free_port(), free_port()
        processes = [
            start_worker(dev.address, queue, env),
            serve(["--factory", "api.app:create_app"], api_port, env),
            serve(["bench.bare_app:app"], bare_port, env),
        ]
        try:
            api = f"http://127.0.0.1:{api_port}"
            sides = [StartSide("this", processes[1], f"{api}/v1/tenants/{tenant}/runs", jwt)]
            if args.baseline is not None:
                sides.append(_baseline_side(args.baseline, workdir, jwk, quotas, env))
                processes.append(sides[-1].process)
            if args.starts_only:
                _setup(api, tenant, jwt)
            else:
                results.extend(_read_cases(api, bare_port, tenant, jwt, args))
            _start_rounds(
                sides,
                lambda c: _measure_direct(dev.address, queue, tenant, c, args.seconds),
                workdir,
                args,
                results,
            )
        finally:
            stop(processes)
    shutil.rmtree(workdir, ignore_errors=True)
    _report(results, args.seconds)


def _report(results: list[tuple[str, int, dict[str, Any]]], seconds: int) -> None:
    print(f"{seconds}s per case, wrk -t1, one uvicorn process per API, same machine\n")
    print(
        f"{'case':26} {'conns':>5} {'req/s':>9} {'vs bare':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7} {'CPU ms/start':>12}"
    )
    bare: dict[int, float] = {}
    for name, connections, r in results:
        if name.startswith("bare"):
            bare[connections] = r["rps"]
        ratio = r["rps"] / bare[connections] if bare.get(connections) else 0.0
        cpu = f"{r['cpu_ms']:12.2f}" if "cpu_ms" in r else ""
        print(
            f"{name:26} {connections:5d} {r['rps']:9.1f} {ratio:8.0%} "
            f"{r.get('p50_ms', 0):8.2f} {r.get('p99_ms', 0):8.2f} {r['non_2xx']:7.0f} {cpu}"
        )
    _report_start_ratios(results)
    by = {(n, c): r for n, c, r in results}
    if ("start-run (this)", 50) in by and ("get-run, closed run", 50) in by:
        start_p99 = by[("start-run (this)", 50)].get("p99_ms", 0)
        floor = by.get(("start, Temporal direct", 50), {}).get("p99_ms", 0)
        get_ratio = by[("get-run, closed run", 50)]["rps"] / bare[50]
        paced_p99 = by.get(("start-run, 50 users 1/s", 50), {}).get("p99_ms", 0)
        print(
            f"\nstart-run p99 at 50 connections: {start_p99:.1f} ms (target < 100); "
            f"the same start straight through the Temporal client: {floor:.1f} ms"
        )
        print(f"start-run p99 with 50 users starting one run a second each: {paced_p99:.1f} ms")
        print(f"get-run req/s vs bare at 50 connections: {get_ratio:.0%} (target >= 50%)")


def _report_start_ratios(results: list[tuple[str, int, dict[str, Any]]]) -> None:
    """Each API side's start-run req/s over the direct client's of the same round."""
    direct = {(c, r["round"]): r["rps"] for n, c, r in results if n == "start, Temporal direct"}
    ratios: dict[tuple[str, int], list[float]] = {}
    for name, connections, r in results:
        floor = direct.get((connections, r.get("round", -1)))
        if name.startswith("start-run (") and floor:
            ratios.setdefault((name, connections), []).append(r["rps"] / floor)
    if not ratios:
        return
    print("\nstart-run req/s / Temporal client direct, per round (target >= 0.9):")
    for (side, connections), values in ratios.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {side:26} {connections:5d}: {shown}  (median {statistics.median(values):.2f})")


if __name__ == "__main__":
    main()

"""Flat routes (`api.app.mount`) versus FastAPI's `include_router`, in one run.

Builds the API's route table both ways and drives each with the same requests
straight through ASGI (no sockets, no HTTP client: only the app's own cost):

* `routes only`: a bare FastAPI app holding `api.routes.ROUTERS`, no middleware;
* `full app`: `create_app()` with every middleware, flat versus included.

Requests: `GET /v1/health` (an early router), `GET /v1/tenants/{id}/audit` without a
token (a late router; 401 from its guard, after routing), and an unknown path (404,
every route tried). Variants alternate in each repeat so machine noise hits both;
the figure per case is the median over repeats of the mean per request.

    python -m bench.routing [--requests 2000] [--repeats 7]

Prints microseconds per request for both, the difference and the ratio
included/flat, and ends with `include_router_ratio=<float>` (the full app's worst case).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message

import api.app
from api.problems import install_problem_handlers
from api.routes import ROUTERS
from api.settings import Settings

CASES = {
    "early router (GET /v1/health)": "/v1/health",
    "late router (401 /v1/tenants/{id}/audit)": f"/v1/tenants/{uuid.uuid4()}/audit",
    "no route (404)": "/v1/no-such-path",
}


def bare(add: Callable[[FastAPI, APIRouter], None], services: Any) -> FastAPI:
    """The routers alone (guards read `services` from the app state, as in the API)."""
    app = FastAPI()
    app.state.services = services
    install_problem_handlers(app)
    for router in ROUTERS:
        add(app, router)
    return app


def include(app: FastAPI, router: APIRouter) -> None:
    app.include_router(router)


def full(database_url: str, add: Callable[[FastAPI, APIRouter], None]) -> FastAPI:
    """`create_app()` with `add` in place of `api.app.mount`."""
    flat = api.app.mount
    api.app.mount = add  # type: ignore[assignment]
    try:
        return api.app.create_app(
            Settings(
                database_url=database_url,
                dev_mode=True,
                rate_limit_ip_per_minute=100_000_000,
                migrate_on_startup=False,
                access_log=False,
            )
        )
    finally:
        api.app.mount = flat  # type: ignore[assignment]


async def call(app: ASGIApp, path: str) -> int:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
        "state": {},
    }
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def per_request_us(app: ASGIApp, path: str, requests: int) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        await call(app, path)
    return (time.perf_counter() - started) / requests * 1e6


async def compare(
    label: str, flat: ASGIApp, included: ASGIApp, requests: int, repeats: int
) -> float:
    print(f"\n{label}: us/request, median of {repeats} x {requests} requests")
    print(f"  {'case':44} {'flat':>8} {'include':>8} {'diff':>7} {'ratio':>6}")
    worst = 0.0
    for case, path in CASES.items():
        statuses = {await call(flat, path), await call(included, path)}
        assert len(statuses) == 1, f"{case}: the two apps answer differently: {statuses}"
        for app in (flat, included):  # warm up
            await per_request_us(app, path, requests // 10 or 1)
        samples: dict[str, list[float]] = {"flat": [], "include": []}
        for _ in range(repeats):
            samples["flat"].append(await per_request_us(flat, path, requests))
            samples["include"].append(await per_request_us(included, path, requests))
        a, b = (statistics.median(samples[k]) for k in ("flat", "include"))
        ratio = b / a
        worst = max(worst, ratio)
        print(f"  {case:44} {a:8.1f} {b:8.1f} {b - a:7.1f} {ratio:6.3f}")
    return worst


async def main_async(requests: int, repeats: int) -> None:
    routes = sum(len(r.routes) for r in ROUTERS)
    print(f"{len(ROUTERS)} routers, {routes} routes")
    workdir = Path(tempfile.mkdtemp(prefix="treeflow-bench-"))
    url = f"sqlite+aiosqlite:///{workdir}/bench.db"
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    flat, included = full(url, api.app.mount), full(url, include)
    services = flat.state.services
    await compare(
        "routes only", bare(api.app.mount, services), bare(include, services), requests, repeats
    )
    worst = await compare("full app", flat, included, requests, repeats)
    print(f"\ninclude_router_ratio={worst:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main_async(args.requests, args.repeats))


if __name__ == "__main__":
    main()

"""Authenticated-request overhead of the API foundation versus a bare FastAPI endpoint.

Starts the real app and a bare FastAPI app with uvicorn (one process each, the same
machine), loads each with ``wrk`` at N concurrent connections, and prints req/s and
latency percentiles for: the bare endpoint, a public route through all middleware,
``GET /v1/me`` with a JWT, ``GET /v1/tenants/{id}`` (one DB read) with a JWT and with an
API key.

    python -m bench.api_auth [--connections 50] [--seconds 10]

Needs ``wrk`` (Debian package). Uses a fresh SQLite file unless ``--database-url`` names
another database. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import shutil
from typing import Annotated

from fastapi import APIRouter, FastAPI

from api.app import create_app
from api.rbac import Access, Permission, requires
from bench.harness import api_env, bench_world, ensure_wrk, free_port, serve, wrk


def bench_app() -> FastAPI:
    """The real app plus one authenticated route that touches no database.

    It isolates what the foundation adds to every request (middleware, authentication,
    RBAC guard, rate limits) from what a handler's own database work costs.
    """
    app = create_app()
    router = APIRouter()

    @router.get("/v1/bench/auth-only")
    async def auth_only(access: Annotated[Access, requires(Permission.SELF)]) -> dict[str, str]:
        return {"subject": access.actor.subject}

    @router.get("/v1/bench/tenants/{tenant_id}/auth-only")
    async def tenant_auth_only(
        access: Annotated[Access, requires(Permission.TENANT_READ)],
    ) -> dict[str, str]:
        return {"tenant": str(access.tenant_id)}

    # Hot routes go first: Starlette matches routes in order (see api.app.mount).
    app.router.routes[:0] = router.routes
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    ensure_wrk()

    world = bench_world("treeflow-bench-", database_url=args.database_url)
    workdir, database_url, jwk, tenant, jwt, key = world
    env = api_env(database_url, jwk)
    api_port, bare_port = free_port(), free_port()
    servers = [
        serve(["--factory", "bench.api_auth:bench_app"], api_port, env),
        serve(["bench.bare_app:app"], bare_port, env),
    ]
    try:
        api = f"http://127.0.0.1:{api_port}"
        cases = [
            ("bare FastAPI GET /bare", f"http://127.0.0.1:{bare_port}/bare", None),
            ("public GET /v1/health (all middleware)", f"{api}/v1/health", None),
            (
                "JWT, no DB (auth + guard only)",
                f"{api}/v1/bench/auth-only",
                f"Authorization: Bearer {jwt}",
            ),
            (
                "JWT, tenant guard, no DB",
                f"{api}/v1/bench/tenants/{tenant}/auth-only",
                f"Authorization: Bearer {jwt}",
            ),
            (
                "API key, tenant guard, no DB",
                f"{api}/v1/bench/tenants/{tenant}/auth-only",
                f"Authorization: Bearer {key}",
            ),
            ("JWT GET /v1/me (1 DB read)", f"{api}/v1/me", f"Authorization: Bearer {jwt}"),
            (
                "JWT GET /v1/tenants/{id} (1 DB read)",
                f"{api}/v1/tenants/{tenant}",
                f"Authorization: Bearer {jwt}",
            ),
            (
                "API key GET /v1/tenants/{id}",
                f"{api}/v1/tenants/{tenant}",
                f"Authorization: Bearer {key}",
            ),
        ]
        for _, url, header in cases:  # warm up caches and connections
            wrk(url, 4, 1, header)
        results = [
            (name, wrk(url, args.connections, args.seconds, header)) for name, url, header in cases
        ]
        post = workdir / "post.lua"
        post.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            'wrk.body = \'{"email": "bench@example.test", "role": "user"}\'\n'
        )
        write = f"{api}/v1/tenants/{tenant}/invitations"
        results.append(
            (
                "JWT POST invitation (insert + audit insert)",
                wrk(write, args.connections, args.seconds, f"Authorization: Bearer {jwt}", post),
            )
        )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

    bare = results[0][1]["rps"]
    print(f"{args.connections} connections, {args.seconds}s each, wrk -t1, one uvicorn per app")
    print(f"{'case':45} {'req/s':>9} {'vs bare':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in results:
        print(
            f"{name:45} {r['rps']:9.0f} {r['rps'] / bare:8.0%} {r.get('p50_ms', 0):8.2f} "
            f"{r.get('p99_ms', 0):8.2f} {r['non_2xx']:7.0f}"
        )


if __name__ == "__main__":
    main()

"""Shared pieces of the benchmarks: what they need installed, seeding, uvicorn, wrk."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import httpx

from api.auth.apikeys import ApiKeyService
from api.auth.tokens import TokenService, generate_signing_key, load_signing_keys
from api.db.engine import make_engine, make_session_factory
from api.db.migrate import upgrade
from api.db.models import Membership, Role, Tenant, User, utcnow
from foundation.secrets import Keyring

WRK_APT_COMMAND = "apt-get update && apt-get install -y wrk"


def ensure_wrk() -> str:
    """The `wrk` load generator (Debian package `wrk`): installed with apt when CI=true.

    Elsewhere a missing `wrk` ends the benchmark with the command that installs it.
    """
    found = shutil.which("wrk")
    if found:
        return found
    if os.environ.get("CI") == "true":
        subprocess.run(
            ["sh", "-c", f"DEBIAN_FRONTEND=noninteractive {WRK_APT_COMMAND}"], check=True
        )
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit(f"this benchmark needs wrk (Debian package): {WRK_APT_COMMAND}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed(
    database_url: str, jwk: str, tenant_settings: dict[str, object] | None = None
) -> tuple[str, str, str]:
    """Tenant, admin user and API key; returns (tenant id, JWT, API key)."""
    engine = make_engine(database_url)
    await upgrade(engine)
    sessions = make_session_factory(engine)
    tenant = Tenant(
        id=uuid.uuid4(),
        slug=f"bench-{uuid.uuid4().hex[:6]}",
        name="Bench",
        settings={"rate_limits": {"requests_per_minute": 10_000_000}, **(tenant_settings or {})},
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    user = User(
        id=uuid.uuid4(), email="bench@example.test", display_name="bench", created_at=utcnow()
    )
    async with sessions() as session:
        session.add_all([tenant, user])
        await session.flush()
        session.add(Membership(tenant_id=tenant.id, user_id=user.id, role="admin"))
        _, key = await ApiKeyService.create(
            session, name="bench", created_by="bench", tenant_id=tenant.id, role=Role.ADMIN
        )
        await session.commit()
    await engine.dispose()
    tokens = TokenService(
        load_signing_keys([jwk]), issuer="treeflow", audience="treeflow-api", ttl_seconds=3600
    )
    return str(tenant.id), tokens.issue(user.id, {tenant.id: Role.ADMIN}), key


UNLIMITED_RUNS: dict[str, object] = {
    "quotas": {"max_concurrent_runs": 100_000, "runs_per_day": 10_000_000}
}
"""Tenant settings that keep the run quotas out of a benchmark's way."""


class BenchWorld(NamedTuple):
    """A benchmark's scratch directory, database, signing key and seeded tenant."""

    workdir: Path
    database_url: str
    jwk: str
    tenant: str
    jwt: str
    api_key: str


def bench_world(
    prefix: str,
    tenant_settings: dict[str, object] | None = None,
    *,
    database_url: str | None = None,
) -> BenchWorld:
    """A fresh temporary directory (`prefix`), a SQLite database in it unless
    `database_url` names one, a new signing key, and a tenant seeded there."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    database_url = database_url or f"sqlite+aiosqlite:///{workdir}/bench.db"
    jwk = json.dumps(generate_signing_key("bench").as_dict(private=True))
    tenant, jwt, key = asyncio.run(seed(database_url, jwk, tenant_settings))
    return BenchWorld(workdir, database_url, jwk, tenant, jwt, key)


SERVE_START_SECONDS = 90
"""How long a uvicorn process may take to answer (a busy shared machine is slow)."""


def api_env(database_url: str, jwk: str, pool_size: int | None = 25) -> dict[str, str]:
    """Environment of a benchmarked API process: dev mode (plain HTTP on loopback), the
    seeded database, a signing key and a secret key, rate limits out of the way, and a
    database pool of ``pool_size`` connections (None: the API's default)."""
    env = {
        **os.environ,
        "TREEFLOW_DEV_MODE": "true",
        "TREEFLOW_DATABASE_URL": database_url,
        "TREEFLOW_JWT_SIGNING_KEYS": json.dumps([jwk]),
        "TREEFLOW_SECRET_KEYS": json.dumps({"bench": Keyring.generate_key()}),
        "TREEFLOW_SECRET_ACTIVE_KEY_ID": "bench",
        "TREEFLOW_RATE_LIMIT_IP_PER_MINUTE": "100000000",
        "TREEFLOW_RATE_LIMIT_PRINCIPAL_PER_MINUTE": "100000000",
    }
    if pool_size is not None:
        env["TREEFLOW_DATABASE_POOL_SIZE"] = str(pool_size)
    return env


def start_worker(address: str, queue: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A `treeflow worker` process polling ``queue`` on the Temporal server at ``address``."""
    treeflow = str(Path(sys.executable).parent / "treeflow")
    return subprocess.Popen(
        [treeflow, "worker"],
        env={**env, "TREEFLOW_TEMPORAL_ADDRESS": address, "TREEFLOW_TEMPORAL_TASK_QUEUE": queue},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    """Terminate each process in turn; one still running after 15 s is killed."""
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def serve(
    target: list[str],
    port: int,
    env: dict[str, str],
    ready_seconds: float = SERVE_START_SECONDS,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """uvicorn serving `target`; `cwd` another checkout to serve that checkout's code."""
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        *target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(cmd, env=env, cwd=cwd)
    deadline = time.monotonic() + ready_seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server on port {port} did not start")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(
    url: str, connections: int, seconds: int, header: str | None, script: Path | None = None
) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency", url]
    if header:
        cmd[1:1] = ["-H", header]
    if script:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    result = {"rps": rps}
    total = re.search(r"(\d+) requests in", out)
    result["requests"] = float(total.group(1)) if total else 0.0
    for pct in ("50", "99"):
        match = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", out)
        if match:
            result[f"p{pct}_ms"] = float(match.group(1)) * _UNITS[match.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if sockets:
        result["non_2xx"] += sum(float(n) for n in sockets.groups())
    return result

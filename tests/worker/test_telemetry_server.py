"""The worker's metrics and health port on its own (worker/telemetry/server.py)."""

from __future__ import annotations

import signal

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from foundation.telemetry.health import CheckResult, HealthReport, run_checks
from worker.telemetry.server import TelemetryServer


async def failing() -> HealthReport:
    return HealthReport("failed", (CheckResult("temporal", "failed", 1.0, "down"),))


def server_with_one_counter() -> TelemetryServer:
    registry = CollectorRegistry()
    Counter("treeflow_probe_total", "a probe counter", registry=registry).inc(3)
    return TelemetryServer(registry, liveness=lambda: run_checks({}), readiness=failing)


async def test_every_path_answers_with_no_store_and_head_has_no_body() -> None:
    async with server_with_one_counter() as server, httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{server.port}"
        metrics = await http.get(f"{base}/metrics?ignored=1")
        head = await http.head(f"{base}/metrics")
        live = await http.get(f"{base}/healthz")
        ready = await http.get(f"{base}/readyz")
        missing = await http.get(f"{base}/metrics/extra")
        deleted = await http.delete(f"{base}/healthz")
    assert metrics.status_code == 200
    assert "treeflow_probe_total 3.0" in metrics.text
    assert metrics.headers["content-type"].startswith("text/plain")
    assert head.status_code == 200
    assert head.content == b""
    assert (live.status_code, live.json()["status"]) == (200, "ok")
    assert ready.status_code == 503
    assert ready.json()["checks"]["temporal"]["status"] == "failed"
    assert (missing.status_code, missing.text) == (404, "not found\n")
    assert (deleted.status_code, deleted.text) == (405, "method not allowed\n")
    for response in (metrics, head, live, ready, missing, deleted):
        assert response.headers["cache-control"] == "no-store"


async def test_the_server_leaves_the_workers_signal_handlers_alone() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    async with server_with_one_counter():
        during = {sig: signal.getsignal(sig) for sig in before}
    assert during == before


async def test_a_taken_port_fails_the_start() -> None:
    async with server_with_one_counter() as first:
        second = TelemetryServer(
            CollectorRegistry(), liveness=failing, readiness=failing, port=first.port
        )
        with pytest.raises(OSError, match="already in use"):
            await second.start()


async def test_stop_closes_the_port() -> None:
    server = await server_with_one_counter().start()
    port = server.port
    await server.stop()
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/healthz")

"""The worker's metrics/health port, backlog gauges and activity logs tied to their run."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from foundation.telemetry.health import run_checks
from foundation.telemetry.metrics import WorkerMetrics
from temporal_client.connection import TemporalSettings
from tests.support.observed import Observed
from tests.support.trees import end, tool_node, tree
from treeflow.devserver import DevServer, free_port
from worker.runner import build_worker
from worker.settings import WorkerSettings
from worker.telemetry.backlog import BacklogMetrics, BacklogMonitor
from worker.telemetry.server import TelemetryServer
from worker.telemetry.setup import WorkerTelemetry


def metric_names(text: str) -> set[str]:
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }


async def test_metrics_port_serves_treeflow_process_and_temporal_sdk_metrics(
    observed: Observed,
) -> None:
    await (
        await observed.start(tree({"a": tool_node("echo@^1", next="e"), "e": end()}), tenant="m")
    ).result()
    async with httpx.AsyncClient() as http:
        ours = await http.get(f"{observed.base_url}/metrics")
        sdk = await http.get(observed.temporal_metrics_url)
    assert ours.status_code == 200
    assert ours.headers["content-type"].startswith("text/plain")
    names = metric_names(ours.text)
    for name in (
        "treeflow_runs_started_total",
        "treeflow_runs_completed_total",
        "treeflow_tool_executions_total",
        "treeflow_tool_duration_seconds_bucket",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ):
        assert name in names, name
    sdk_names = metric_names(sdk.text)
    assert "temporal_workflow_completed_total" in sdk_names, sorted(sdk_names)[:40]
    assert "temporal_activity_execution_latency_bucket" in sdk_names


async def test_liveness_and_readiness_report_each_check_with_latency(observed: Observed) -> None:
    async with httpx.AsyncClient() as http:
        live = await http.get(f"{observed.base_url}/healthz")
        ready = await http.get(f"{observed.base_url}/readyz")
        missing = await http.get(f"{observed.base_url}/nope")
        posted = await http.post(f"{observed.base_url}/readyz")
    assert live.status_code == 200
    assert live.json()["status"] == "ok"
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"temporal", "worker"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert check["latency_ms"] >= 0
    assert missing.status_code == 404
    assert posted.status_code == 405


async def test_readiness_fails_when_temporal_goes_away(tmp_path: Path) -> None:
    server = DevServer(port=free_port(), ui_port=None, log_file=tmp_path / "temporal.log").start()
    try:
        client = None
        for _ in range(100):
            try:
                client = await Client.connect(server.address)
                break
            except RuntimeError:
                await asyncio.sleep(0.1)
        assert client is not None
        telemetry = WorkerTelemetry(
            metrics=WorkerMetrics(process=False), backlog=BacklogMetrics(CollectorRegistry())
        )
        worker = build_worker(client, WorkerSettings(), "unused", ToolHost(ToolRegistry()))
        checks = {"temporal": telemetry.checks(client, worker)["temporal"]}
        assert (await run_checks(checks)).status == "ok"
    finally:
        server.stop()
    http_server = TelemetryServer(
        CollectorRegistry(), liveness=lambda: run_checks({}), readiness=lambda: run_checks(checks)
    )
    async with http_server, httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{http_server.port}/readyz", timeout=10)
    assert response.status_code == 503
    temporal = response.json()["checks"]["temporal"]
    assert temporal["status"] == "failed"
    assert temporal["detail"]
    assert temporal["latency_ms"] > 0


async def test_backlog_gauges_count_waiting_tasks(
    client: Client, temporal_settings: TemporalSettings
) -> None:
    queue = f"backlog-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        await client.start_workflow(
            "NobodyServesThis", id=f"backlog-{uuid.uuid4().hex}", task_queue=queue
        )
    metrics = BacklogMetrics(CollectorRegistry())
    monitor = BacklogMonitor(client, queue, metrics, interval=0.2)
    monitor.start()
    try:
        for _ in range(50):
            await asyncio.sleep(0.2)
            if metrics.count.labels(queue, "workflow")._value.get() == 3:
                break
    finally:
        await monitor.stop()
    assert metrics.count.labels(queue, "workflow")._value.get() == 3
    assert metrics.count.labels(queue, "activity")._value.get() == 0
    assert metrics.age.labels(queue, "workflow")._value.get() >= 0


async def test_activity_logs_are_tied_to_their_run(
    observed: Observed, json_logs: io.StringIO
) -> None:
    handle = await observed.start(
        tree({"talk": tool_node("chatty", {"message": "hi"}, next="e"), "e": end()}, name="chat"),
        tenant="loggers",
    )
    await handle.result()
    records = [
        json.loads(line) for line in json_logs.getvalue().splitlines() if line.startswith("{")
    ]
    said = [r for r in records if r.get("event") == "tool says hi"]
    assert len(said) == 1, records
    line = said[0]
    assert line["run_id"] == handle.id
    assert line["temporal_run_id"] == handle.result_run_id
    assert line["node"] == "talk"
    assert line["tool"] == "chatty@1.0.0"
    assert line["tenant_id"] == "loggers"
    assert line["logger"] == "treeflow.tool"
    assert line["api_key"] == "[REDACTED]"
    assert "tfk_never_in_logs" not in json_logs.getvalue()

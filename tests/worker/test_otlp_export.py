"""OTLP/HTTP export, configured only by OTEL_* variables, to a receiver in another process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from temporalio.client import Client

from activities.registry import ToolRegistry
from foundation.telemetry.tracing import build_tracer_provider
from temporal_client.connection import TemporalSettings
from tests.support.processes import REPO, WorkerProcess
from tests.support.temporal_fixtures import start_compiled
from tests.support.trees import end, tool_node, tree
from treeflow.devserver import DevServer, free_port
from worker.telemetry.setup import WorkerTelemetry
from workflows.compiler import compile_tree


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    out = tmp_path / "spans.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.otlp_receiver",
            "--port",
            str(port),
            "--out",
            str(out),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    assert "listening" in process.stdout.readline()
    try:
        yield f"http://127.0.0.1:{port}/v1/traces", out
    finally:
        process.terminate()
        process.wait(10)


def received(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


async def exported(out: Path, trace_id: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The receiver's spans of one trace by name, once all `wanted` ones arrived (15 s)."""
    deadline = time.monotonic() + 15
    spans: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        spans = {s["name"]: s for s in received(out) if s["trace_id"] == trace_id}
        if wanted <= spans.keys():
            break
        await asyncio.sleep(0.2)
    assert wanted <= spans.keys(), sorted(spans)
    return spans


async def assert_serves_metrics_and_probes(metrics_port: int) -> None:
    """The worker process serves its metrics and probes from TREEFLOW_WORKER_* settings."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{metrics_port}") as http:
        metrics = (await http.get("/metrics")).text
        ready = await http.get("/readyz")
    assert (
        'treeflow_runs_completed_total{outcome="completed",tenant="otlp",tree="otlp"} 1.0'
        in metrics
    )
    assert ready.status_code == 200
    assert ready.json()["checks"]["temporal"]["status"] == "ok"


def test_tracing_is_off_without_otel_settings() -> None:
    assert build_tracer_provider("x", environ={}) is None
    assert build_tracer_provider("x", environ={"OTEL_TRACES_EXPORTER": "none"}) is None
    assert (
        build_tracer_provider(
            "x",
            environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318", "OTEL_SDK_DISABLED": "true"},
        )
        is None
    )
    assert WorkerTelemetry.build(environ={}).tracer_provider is None


async def test_a_worker_process_exports_the_run_over_otlp_http(
    receiver: tuple[str, Path], dev_server: DevServer, registry: ToolRegistry
) -> None:
    endpoint, out = receiver
    queue = f"otlp-{uuid.uuid4().hex[:8]}"
    metrics_port = free_port()
    worker = WorkerProcess(
        dev_server.address,
        queue,
        "otlp-worker",
        extra_env={
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint,
            "OTEL_SERVICE_NAME": "treeflow-worker-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "TREEFLOW_WORKER_METRICS_PORT": str(metrics_port),
            "TREEFLOW_LOG_FORMAT": "json",
        },
    ).start()
    try:
        # The starting side exports to the same receiver, as an API would.
        provider = build_tracer_provider("treeflow-starter", exporter=OTLPSpanExporter(endpoint))
        assert provider is not None
        telemetry = WorkerTelemetry.build(tracer_provider=provider)
        settings = TemporalSettings(address=dev_server.address, task_queue=queue)
        client = await Client.connect(**settings.connect_kwargs(), **telemetry.client_options())
        compiled = compile_tree(
            tree(
                {
                    "a": tool_node("echo@^1", {"value": 1}, next="b"),
                    "b": tool_node("add", {"a": 1, "b": 2}, next="e"),
                    "e": end(),
                },
                name="otlp",
            ),
            registry,
        )
        tracer = provider.get_tracer("tests")
        with tracer.start_as_current_span("POST /v1/runs") as root:
            handle = await start_compiled(client, compiled, tenant="otlp", task_queue=queue)
        await handle.result()
        provider.force_flush()
        wanted = {
            "RunActivity:echo@1.0.0",
            "RunActivity:add@1.0.0",
            "StartWorkflow:DecisionTreeWorkflow",
        }
        spans = await exported(out, f"{root.get_span_context().trace_id:032x}", wanted)
        activity = spans["RunActivity:add@1.0.0"]
        assert activity["service"] == "treeflow-worker-under-test"
        assert activity["attributes"]["tool.name"] == "add"
        assert activity["attributes"]["tenant"] == "otlp"
        assert spans["POST /v1/runs"]["service"] == "treeflow-starter"
        provider.shutdown()
        await assert_serves_metrics_and_probes(metrics_port)
    finally:
        worker.stop()
    polling = next(line for line in worker.lines if "worker polling" in line)
    assert json.loads(polling)["logger"] == "treeflow.worker"  # JSON lines, as configured

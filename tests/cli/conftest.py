"""Tests here run trees: they share the session's Temporal dev server and worker."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("tests.support.temporal_fixtures")

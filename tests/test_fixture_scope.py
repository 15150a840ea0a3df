"""Unit-test folders run without importing the worker or the dev server; folders whose
tests run trees get the shared Temporal fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"worker.runner", "treeflow.devserver", "tests.support.temporal_fixtures"}

# Runs pytest in a fresh interpreter, then reports which of HEAVY it imported.
_PROBE = f"""
import os, sys
import pytest
code = pytest.main(sys.argv[1:])
print("LOADED", ",".join(sorted(set(sys.modules) & set({sorted(HEAVY)!r}))), flush=True)
os._exit(code)
"""


def _heavy_modules_loaded_by(*pytest_args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, "-q", "-p", "no:cacheprovider", *pytest_args],
        cwd=REPO,
        env={**os.environ, "TREEFLOW_TEST_SOFT_EXIT": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("LOADED")]
    return set(filter(None, line.removeprefix("LOADED").strip().split(",")))


def test_a_unit_test_folder_imports_neither_the_worker_nor_the_dev_server() -> None:
    assert _heavy_modules_loaded_by("tests/activities/test_versions.py") == set()


def test_a_folder_that_runs_trees_gets_the_temporal_fixtures() -> None:
    loaded = _heavy_modules_loaded_by("--collect-only", "tests/workflows/test_version_pinning.py")
    assert loaded == HEAVY

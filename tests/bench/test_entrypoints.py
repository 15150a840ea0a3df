"""Every benchmark runs one way, `python -m bench.<name>`, as its docstring says."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(
    path.stem
    for path in (ROOT / "bench").glob("*.py")
    if "def main(" in path.read_text() and path.stem != "__init__"
)


def test_there_are_benchmarks() -> None:
    assert {"overhead", "api_load", "waiting_runs", "retrieval"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_benchmark_documents_and_answers_python_dash_m(name: str) -> None:
    source = (ROOT / "bench" / f"{name}.py").read_text()
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert f"python -m bench.{name}" in docstring
    assert f"bench/{name}.py" not in docstring
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout

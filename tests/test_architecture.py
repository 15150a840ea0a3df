"""The import rules of the design card, checked on every run."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")

# Modules that can reach the network, disk or clock: never imported by workflows/.
IO_MODULES = {
    "httpx",
    "requests",
    "socket",
    "subprocess",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "openai",
    "weaviate",
    "lancedb",
    "urllib.request",
    "shutil",
    "tempfile",
    "threading",
}


def test_import_linter_contracts_hold() -> None:
    result = subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_workflows_package_performs_no_io() -> None:
    offenders = {}
    for path in (REPO / "workflows").rglob("*.py"):
        bad = {
            name
            for name in _imports(path)
            if any(name == io or name.startswith(io + ".") for io in IO_MODULES)
        }
        if bad:
            offenders[str(path.relative_to(REPO))] = sorted(bad)
    assert offenders == {}


def test_workflows_read_only_tool_metadata_from_activities() -> None:
    allowed = {"activities.sdk", "activities.versions", "activities.contracts"}
    used = {
        name
        for path in (REPO / "workflows").rglob("*.py")
        for name in _imports(path)
        if name.startswith("activities")
    }
    assert used <= allowed, used - allowed


def test_interpreter_imports_pass_through_the_sandbox() -> None:
    """Our modules are imported inside `imports_passed_through`, nothing else of ours."""
    tree = ast.parse((REPO / "workflows" / "workflow.py").read_text())
    top_level_ours = [
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.split(".")[0] in {"workflows", "activities"}
    ]
    assert top_level_ours == []

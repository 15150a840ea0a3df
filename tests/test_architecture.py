"""The import rules of the design card, checked on every run."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import grimp

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")

# What workflow code may reach in activities/, directly or not: tool metadata and the
# error types it names. Anything else there runs tools.
TOOL_METADATA = {
    "activities.sdk",
    "activities.versions",
    "activities.contracts",
    "activities.errors",
    "activities.json_inputs",  # the one JSON Schema check of inputs (run inputs, client side)
}


def _lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_import_linter_contracts_hold() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _io_contract() -> dict[str, Any]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    [contract] = [c for c in config["contracts"] if c["id"] == "workflows-no-io"]
    assert config["include_external_packages"] is True
    return dict(contract)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_io_contract_catches_an_io_library_reached_through_our_modules(tmp_path: Path) -> None:
    """The direct-imports check this replaces missed a chain through a helper module."""
    contract = _io_contract()
    contract.pop("ignore_imports", None)
    forbidden = ", ".join(f'"{name}"' for name in contract["forbidden_modules"])
    (tmp_path / "contracts.toml").write_text(
        "[tool.importlinter]\n"
        'root_packages = ["workflows", "activities"]\n'
        "include_external_packages = true\n"
        "[[tool.importlinter.contracts]]\n"
        f'name = "{contract["name"]}"\n'
        'type = "forbidden"\n'
        'source_modules = ["workflows"]\n'
        f"forbidden_modules = [{forbidden}]\n"
    )
    _write(
        tmp_path,
        {
            "workflows/__init__.py": "",
            "workflows/engine.py": "from activities import sdk\n",
            "activities/__init__.py": "",
            "activities/sdk.py": "import json\n",
        },
    )
    clean = _lint_imports(tmp_path, "contracts.toml")
    assert clean.returncode == 0, clean.stdout + clean.stderr

    _write(tmp_path, {"activities/sdk.py": "import json\n\nimport httpx\n"})
    broken = _lint_imports(tmp_path, "contracts.toml")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "workflows.engine -> activities.sdk" in broken.stdout
    assert "activities.sdk -> httpx" in broken.stdout


def test_workflows_reach_only_tool_metadata_in_activities() -> None:
    graph = grimp.build_graph("workflows", "activities", cache_dir=None)
    reached = {
        module
        for module in graph.find_upstream_modules("workflows", as_package=True)
        if module.startswith("activities.")
    }
    assert reached, "workflows read tool metadata from activities"
    assert reached <= TOOL_METADATA, reached - TOOL_METADATA


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

"""The README examples compile and run as written; the architecture doc matches the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from activities.registry import ToolRegistry
from activities.sdk import definition_of
from workflows.compiler import compile_tree

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_the_readme_tree_compiles(registry: ToolRegistry) -> None:
    trees = [b for b in blocks("yaml") if "nodes:" in b and "start:" in b]
    assert trees, "the README shows a tree"
    for text in trees:
        compiled = compile_tree(text, registry)
        assert compiled.pins()["policy"] == "summarize@1.0.0"


def test_the_readme_tool_is_a_valid_tool() -> None:
    [source] = [b for b in blocks("python") if "@tool(" in b]
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(source, "README.md", "exec"), namespace)
    spec = definition_of(namespace["ticket_status"]).spec
    assert spec.activity_name == "ticket_status@1.2.0"
    assert spec.description.startswith("Look up a support ticket's status")


ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()


def _section(title: str) -> str:
    return ARCHITECTURE.split(f"\n{title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_architecture_doc_lists_every_package_and_foundation_module() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in config["tool"]["setuptools"]["packages"]["find"]["include"]}
    where = _section("## Where things live")
    assert {p for p in packages if f"`{p}/`" not in where} == set()
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in _section("### foundation/").splitlines()
        if line.startswith("| `foundation/")
    }
    missing = []
    for path in sorted((ROOT / "foundation").rglob("*")):
        if path.suffix not in {".py", ".json"} or path.name == "__init__.py":
            continue
        parts = path.relative_to(ROOT).parts  # ("foundation", "x.py") or (.., "pkg", "x.py")
        row = "/".join(parts) if len(parts) == 2 else f"{parts[0]}/{parts[1]}/"
        if row not in rows or (len(parts) > 2 and f"`{path.name}`" not in rows[row]):
            missing.append("/".join(parts))
    assert missing == []


def test_the_architecture_doc_names_every_import_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ids = {contract["id"] for contract in config["tool"]["importlinter"]["contracts"]}
    boundaries = _section("## Boundaries")
    assert {i for i in ids if f"`{i}`" not in boundaries} == set()

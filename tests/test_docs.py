"""The examples in the README compile and run as written."""

from __future__ import annotations

import re
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

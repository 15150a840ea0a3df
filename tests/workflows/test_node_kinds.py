"""A node kind cannot be forgotten: adding one fails mypy until every dispatch handles it."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal, cast

import pytest

from workflows import graph
from workflows.compiler import _Compiler
from workflows.spec import NODE_KINDS, Node, _NodeBase
from workflows.tree_interpreter import TreeRun

REPO = Path(__file__).resolve().parents[2]
DISPATCHERS = {"workflows/compiler.py", "workflows/graph.py", "workflows/tree_interpreter.py"}
UNION = "AnyNode = DecisionNode | ToolNode | InputNode | ParallelNode | SubtreeNode | EndNode"
FAKE_KIND = """class FakeNode(_NodeBase):
    kind: Literal["fake"]


"""


class _FakeNode(_NodeBase):
    kind: Literal["fake"] = "fake"


def _mypy_errors(root: Path) -> list[str]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(root / ".mypy_cache"),
            "-p",
            "workflows",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in result.stdout.splitlines() if ": error:" in line]


@pytest.mark.slow
def test_adding_a_node_kind_fails_mypy_in_every_dispatch(tmp_path: Path) -> None:
    shutil.copytree(REPO / "workflows", tmp_path / "workflows")
    (tmp_path / "activities").symlink_to(REPO / "activities")
    spec = tmp_path / "workflows" / "spec.py"
    source = spec.read_text()
    assert UNION in source, "the node union moved: update this test"
    spec.write_text(source.replace(UNION, FAKE_KIND + UNION + " | FakeNode"))

    errors = _mypy_errors(tmp_path)

    unhandled = re.compile(r'"assert_never" has incompatible type "FakeNode"')
    assert errors, "mypy accepted a node kind that nothing handles"
    assert all(unhandled.search(line) for line in errors), errors
    assert {line.split(":", 1)[0] for line in errors} == DISPATCHERS


def test_node_kinds_are_derived_from_the_union() -> None:
    assert {"decision", "tool", "input", "parallel", "subtree", "end"} == NODE_KINDS


def test_an_unknown_kind_fails_at_once_instead_of_looping() -> None:
    """At run time too: the walk raises on the first unknown node, it does not spin."""
    fake = cast(Node, _FakeNode())
    run = TreeRun.__new__(TreeRun)
    with pytest.raises(AssertionError):
        asyncio.run(run._step("odd", fake))
    with pytest.raises(AssertionError):
        graph.edges({"odd": fake})
    compiler = cast(Any, _Compiler)(catalog=None, load_tree=None)
    with pytest.raises(AssertionError):
        compiler.node(None, "odd", fake, "nodes.odd", None, set())

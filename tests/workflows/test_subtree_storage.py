"""Subtrees stored once by hash still run as nested child workflows, and inputs in
the older form (each subtree carrying copies of its own children) run the same way."""

from __future__ import annotations

from typing import Any

from activities.registry import ToolRegistry
from tests.support.temporal_fixtures import RunTree
from tests.support.trees import end, tool_node, tree, with_nested_copies
from workflows.compiler import compile_tree


def three_levels() -> dict[str, Any]:
    leaf = tree(
        {
            "t": tool_node("add", {"a": "{{ inputs.a }}", "b": 1}, next="e"),
            "e": end({"total": "{{ results.t.sum }}"}),
        },
        name="leaf",
        inputs={"a": {"type": "number"}},
    )
    spec = leaf
    for name in ("middle", "upper"):
        spec = tree(
            {
                "s": {
                    "kind": "subtree",
                    "spec": spec,
                    "inputs": {"a": "{{ inputs.a }}"},
                    "next": "e",
                },
                "e": end({"total": "{{ results.s.output.total }}"}),
            },
            name=name,
            inputs={"a": {"type": "number"}},
        )
    return spec


async def test_grandchildren_run_from_the_flat_table(
    run_tree: RunTree, registry: ToolRegistry
) -> None:
    compiled = compile_tree(three_levels(), registry)
    assert len(compiled.subtrees) == 2
    assert all(not entry.subtrees for entry in compiled.subtrees.values())
    run = await run_tree(compiled, {"a": 41})
    assert run.result.outcome == "completed"
    assert run.result.output == {"total": 42.0}


async def test_inputs_with_nested_copies_run_identically(
    run_tree: RunTree, registry: ToolRegistry
) -> None:
    compiled = compile_tree(three_levels(), registry)
    old_form = with_nested_copies(compiled)
    assert old_form.hash == compiled.hash
    assert any(entry.subtrees for entry in old_form.subtrees.values())
    new_run = await run_tree(compiled, {"a": 1})
    old_run = await run_tree(old_form, {"a": 1})
    assert old_run.result.model_dump(exclude={"tree_hash"}) == new_run.result.model_dump(
        exclude={"tree_hash"}
    )
    assert old_run.result.output == {"total": 2.0}

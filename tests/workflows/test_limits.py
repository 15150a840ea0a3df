"""Tree limits (`workflows.limits`): documents that expand, nest, overflow or hold
numbers nothing can run are refused with a path, before anything grows or recurses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from activities.registry import ToolRegistry
from temporal_client.run_start import check_inputs
from tests.support.trees import end, tool_node, tree, with_nested_copies
from workflows import limits
from workflows.compiled import CompiledTree
from workflows.compiler import CompileError, compile_tree

pytestmark = pytest.mark.timeout(60)  # a hang or an expansion fails, not blocks, the suite


def problems(source: Any, registry: ToolRegistry) -> dict[str, str]:
    with pytest.raises(CompileError) as info:
        compile_tree(source, registry)
    return {issue.path: issue.message for issue in info.value.issues}


def one_problem(source: Any, registry: ToolRegistry) -> tuple[str, str]:
    found = problems(source, registry)
    assert len(found) == 1, found
    return next(iter(found.items()))


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["name: bomb", "start: e", "state:", '  l0: &l0 ["' + "x" * 10 + '"]']
    for level in range(1, levels + 1):
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join([*lines, "nodes:", "  e: {kind: end}", ""])


def nested_subtrees(depth: int) -> dict[str, Any]:
    spec: dict[str, Any] = tree({"e": end()}, name="leaf")
    for level in range(depth):
        spec = tree(
            {"s": {"kind": "subtree", "spec": spec, "next": "e"}, "e": end()}, name=f"t{level}"
        )
    return spec


# ---------------------------------------------------------------- documents


def test_a_yaml_alias_bomb_is_refused_before_it_expands(registry: ToolRegistry) -> None:
    path, message = one_problem(alias_bomb(), registry)
    assert path.startswith("state.l")
    assert f"more than {limits.MAX_DOCUMENT_VALUES} values" in message


def test_too_many_aliases_are_refused(registry: ToolRegistry) -> None:
    refs = ", ".join(["*a"] * (limits.MAX_YAML_ALIASES + 1))
    text = f"name: t\nstart: e\nstate:\n  a: &a 1\n  many: [{refs}]\nnodes:\n  e: {{kind: end}}\n"
    path, message = one_problem(text, registry)
    assert path.startswith("state.many")
    assert "YAML aliases" in message


def test_a_recursive_alias_is_refused(registry: ToolRegistry) -> None:
    text = "name: t\nstart: e\nstate:\n  loop: &a [*a]\nnodes:\n  e: {kind: end}\n"
    path, message = one_problem(text, registry)
    assert path.startswith("state.loop")
    assert "refers to a node that holds it" in message


def test_small_anchors_still_work(registry: ToolRegistry) -> None:
    text = (
        "name: t\nstart: a\nstate:\n  shared: &s {retries: 2}\n  copy: *s\n"
        "nodes:\n  a: {kind: tool, tool: echo, args: {value: x}, next: e}\n  e: {kind: end}\n"
    )
    assert compile_tree(text, registry).spec.state["copy"] == {"retries": 2}


@pytest.mark.parametrize(
    ("form", "depth"),
    [("yaml-block", 300), ("yaml-flow", 500), ("yaml-flow", 50_000), ("json", 50_000)],
)
def test_deep_nesting_is_refused_with_its_path(
    registry: ToolRegistry, form: str, depth: int
) -> None:
    if form == "json":
        text = json.dumps(tree({"e": end()}))[:-1] + ', "state": {"x": ' + "[" * depth
        text += "]" * depth + "}}"
    elif form == "yaml-flow":
        text = "name: t\nstart: e\nnodes: {e: {kind: end}}\nstate:\n  x: " + "[" * depth
        text += "]" * depth + "\n"
    else:
        text = "name: t\nstart: e\nnodes: {e: {kind: end}}\nstate:\n"
        text += "".join(" " * (2 * level) + f"k{level}:\n" for level in range(1, 300))
        text += " " * 600 + "leaf: 1\n"
    path, message = one_problem(text, registry)
    assert f"nested deeper than {limits.MAX_NESTING_DEPTH} levels" in message
    if depth < 1_000:  # deeper, the parsers' own guards fire first: no path, a line at most
        assert path.startswith("state.")


def test_oversize_and_non_utf8_sources_are_refused(registry: ToolRegistry) -> None:
    padding = "#" * limits.MAX_SOURCE_BYTES
    _, message = one_problem(f"name: t\n{padding}\n", registry)
    assert f"the limit is {limits.MAX_SOURCE_BYTES}" in message
    _, message = one_problem(b"name: t\nstart: \xff\xfe\x00binary", registry)
    assert "not UTF-8 text (byte 0xff at offset 15)" in message


def test_problems_about_huge_ids_quote_a_bounded_part(registry: ToolRegistry) -> None:
    huge = "b" * 100_000
    listed = {"name": "t", "start": "a", "nodes": [{"id": "a", "kind": "end"}, {"id": huge}]}
    with pytest.raises(CompileError) as info:
        compile_tree(json.dumps(listed), registry)
    assert len(str(info.value)) < 3 * limits.MAX_PROBLEM_TEXT_CHARS
    assert "…(+" in str(info.value)
    branch = {"kind": "decision", "branches": [{"to": "e", "id": huge}, {"to": "e"}]}
    path, message = one_problem(tree({"d": branch, "e": end()}), registry)
    assert (path, message) == (
        "nodes.d.branches.0.id",
        f"String should have at most {limits.MAX_ID_LENGTH} characters",
    )


# ---------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    "rule",
    [
        "- " * 1_000 + "1 > 0",
        "not " * 900 + "true",
        "+".join(["1"] * 1_500) + " > 0",
        "inputs" + ".x" * 1_500 + " == 1",
        "inputs" + "[0]" * 1_000 + " == 1",
        "(" * 200 + "1" + ")" * 200 + " > 0",
    ],
)
def test_deep_rules_are_syntax_errors_not_recursion(registry: ToolRegistry, rule: str) -> None:
    decide = {"kind": "decision", "branches": [{"to": "e", "when": rule}, {"to": "f"}]}
    path, message = one_problem(tree({"d": decide, "e": end(), "f": end()}), registry)
    assert path == "nodes.d.branches[0].when"
    assert f"nested deeper than {limits.MAX_EXPRESSION_DEPTH} levels" in message or (
        "nested too deeply" in message
    )


def test_long_rules_are_refused_before_parsing(registry: ToolRegistry) -> None:
    rule = "1 == " + "1" * limits.MAX_EXPRESSION_LENGTH
    decide = {"kind": "decision", "branches": [{"to": "e", "when": rule}, {"to": "f"}]}
    _, message = one_problem(tree({"d": decide, "e": end(), "f": end()}), registry)
    assert f"longer than {limits.MAX_EXPRESSION_LENGTH} characters" in message


# ---------------------------------------------------------------- subtrees and sizes


def test_nested_subtrees_are_stored_once(registry: ToolRegistry) -> None:
    compiled = compile_tree(nested_subtrees(18), registry)
    assert len(compiled.subtrees) == 18
    assert all(not entry.subtrees for entry in compiled.subtrees.values())
    # Linear in depth: the doubling form was 169 MB for this tree.
    assert len(compiled.model_dump_json()) < 40_000
    # A child gets exactly the subtrees below it, so it can start its own children.
    top = compiled.spec.nodes["s"]
    assert top.kind == "subtree"
    assert top.tree is not None
    child = compiled.child(top.tree)
    assert len(child.subtrees) == 17
    assert CompiledTree.model_validate_json(child.model_dump_json()) == child


def test_the_hash_of_a_tree_with_subtrees_does_not_depend_on_the_storage_form(
    registry: ToolRegistry,
) -> None:
    flat = compile_tree(nested_subtrees(3), registry)
    nested = with_nested_copies(flat)
    assert nested != flat
    assert nested.hash == flat.hash
    # Old inputs (each entry carrying copies of its children) still hand out the same children.
    for tree_hash in flat.subtrees:
        assert nested.child(tree_hash).model_dump(exclude={"subtrees"}) == flat.child(
            tree_hash
        ).model_dump(exclude={"subtrees"})
        assert set(nested.child(tree_hash).subtrees) == set(flat.child(tree_hash).subtrees)


def test_subtrees_nested_too_deep_are_refused(registry: ToolRegistry) -> None:
    found = problems(nested_subtrees(limits.MAX_SUBTREE_DEPTH + 1), registry)
    assert any(
        f"nested deeper than {limits.MAX_SUBTREE_DEPTH} levels" in message
        and path.startswith("nodes.s.spec.nodes.s.spec")
        for path, message in found.items()
    ), found


def test_node_count_is_limited(registry: ToolRegistry) -> None:
    nodes: dict[str, Any] = {f"n{i}": end() for i in range(limits.MAX_NODES + 1)}
    path, message = one_problem(tree(nodes), registry)
    assert path == "nodes"
    assert f"at most {limits.MAX_NODES} items" in message


def test_compiled_size_is_limited(registry: ToolRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tree({"a": tool_node("echo", {"value": "x" * 5_000}, next="e"), "e": end()})
    monkeypatch.setattr("workflows.compiler.MAX_COMPILED_BYTES", 4_000)
    _, message = one_problem(doc, registry)
    assert "compiled tree is" in message
    assert "the limit is 4000" in message


# ---------------------------------------------------------------- numbers and shapes


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("timeout", "1.0e+300", "at most 366d"),
        ("timeout", "999999999d", "at most 366d"),
        ("timeout", ".inf", "finite"),
        ("timeout", ".nan", "finite"),
        ("heartbeat_timeout", "400d", "at most 366d"),
        ("retry.initial_interval", 1e12, "at most 1d"),
        ("retry.max_interval", "2d", "at most 1d"),
        ("retry.backoff", ".nan", "finite"),
        ("retry.max_attempts", 2**70, "less than or equal to 100"),
    ],
)
def test_numbers_are_range_checked(
    registry: ToolRegistry, field: str, value: Any, expected: str
) -> None:
    node = tool_node("echo", {"value": "x"}, next="e")
    if "." in field:
        outer, inner = field.split(".")
        node[outer] = {inner: "PLACEHOLDER"}
    else:
        node[field] = "PLACEHOLDER"
    text = yaml.safe_dump(tree({"a": node, "e": end()}))
    literal = value if isinstance(value, str) else repr(value)
    path, message = one_problem(text.replace("PLACEHOLDER", literal), registry)
    assert path.startswith(f"nodes.a.{field}") or path == f"nodes.a.{field}", path
    assert expected in message, message


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "t", "start": "e", "nodes": {"e": {"kind": "end", "output": {"x": NaN}}}}',
        '{"name": "t", "start": "e", "nodes": {"e": {"kind": "end", "output": {"x": 1e999}}}}',
        "name: t\nstart: e\nnodes:\n  e:\n    kind: end\n    output: {x: -.inf}\n",
    ],
)
def test_non_finite_numbers_are_refused_anywhere(registry: ToolRegistry, text: str) -> None:
    path, message = one_problem(text, registry)
    assert path == "nodes.e.output.x"
    assert "not a finite number" in message


def test_limits_refuse_out_of_range_values(registry: ToolRegistry) -> None:
    found = problems(
        tree({"e": end()}, limits={"max_steps": 10**30, "max_passes": 2**70}), registry
    )
    assert set(found) == {"limits.max_steps", "limits.max_passes"}


def test_empty_choices_are_refused(registry: ToolRegistry) -> None:
    ask = {"kind": "input", "prompt": "?", "save_as": "a", "choices": [], "next": "e"}
    path, message = one_problem(tree({"ask": ask, "e": end()}), registry)
    assert path == "nodes.ask.choices"
    assert "at least 1 item" in message


def test_unbalanced_braces_are_found_at_any_depth(registry: ToolRegistry) -> None:
    args = {"value": {"deep": [{"text": "hello {{ inputs.x "}]}}
    path, message = one_problem(
        tree({"a": tool_node("echo", args, next="e"), "e": end()}), registry
    )
    assert path == "nodes.a.args.value.deep[0].text"
    assert "unbalanced" in message


@pytest.mark.parametrize(
    ("declared", "default"),
    [("integer", "ten"), ("string", 3), ("boolean", 1), ("integer", True), ("array", {})],
)
def test_input_defaults_must_fit_their_type(
    registry: ToolRegistry, declared: str, default: Any
) -> None:
    doc = tree({"e": end()}, inputs={"x": {"type": declared, "default": default}})
    path, message = one_problem(doc, registry)
    assert path == "inputs.x"
    assert f"must be of type {declared}" in message


def test_run_inputs_are_finite_and_shallow(registry: ToolRegistry) -> None:
    compiled = compile_tree(tree({"e": end()}), registry)
    deep: Any = "leaf"
    for _ in range(300):
        deep = [deep]
    (problem,) = check_inputs(compiled, {"x": deep})
    assert problem.field.startswith("inputs.x[0]")
    assert f"nested deeper than {limits.MAX_INPUT_DEPTH} levels" in problem.message
    (problem,) = check_inputs(compiled, {"x": {"y": [1.0, float("nan")]}})
    assert (problem.field, problem.message.split(" (")[0]) == (
        "inputs.x.y[1]",
        "NaN is not a finite number",
    )
    assert check_inputs(compiled, {"x": [[[1]]]}) == []


def test_every_limit_is_documented_with_its_value() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "tree-authoring.md").read_text()
    names = [name for name in dir(limits) if name.startswith("MAX_")]
    assert len(names) >= 20
    for name in names:
        value = getattr(limits, name)
        assert f"| `{name}` | {value}" in docs, name


def test_compiled_trees_accepted_before_the_limits_still_decode(registry: ToolRegistry) -> None:
    """Runs in flight and stored versions carry trees compiled under older rules."""
    ask = {"kind": "input", "prompt": "?", "save_as": "a", "choices": ["y"], "next": "e"}
    doc = tree({"ask": ask, "e": end()}, inputs={"n": {"type": "integer", "default": 1}})
    data = compile_tree(doc, registry).model_dump(mode="json")
    data["spec"]["nodes"]["ask"]["choices"] = []
    data["spec"]["nodes"]["ask"]["timeout"] = 1e300
    data["spec"]["inputs"]["n"]["default"] = "one"
    data["spec"]["state"]["k" * 500] = 1
    decoded = CompiledTree.model_validate(data)
    assert decoded.spec.nodes["ask"].kind == "input"
    with pytest.raises(CompileError):
        compile_tree(data["spec"], registry)

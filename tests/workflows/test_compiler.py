"""Every meaning check of the compiler, each reported with its node path."""

from __future__ import annotations

from typing import Any

import pytest

from activities.registry import ToolRegistry
from tests.support.trees import end, tool_node, tree
from workflows.compiler import CompileError, compile_tree
from workflows.spec import DecisionNode, ToolNode, TreeSpec


def problems(source: Any, registry: ToolRegistry, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(CompileError) as info:
        compile_tree(source, registry, **kwargs)
    return {issue.path: issue.message for issue in info.value.issues}


def test_valid_tree_pins_exact_versions(registry: ToolRegistry) -> None:
    compiled = compile_tree(
        tree({"s": tool_node("strict@^2", {"query": "x"}, next="e"), "e": end()}), registry
    )
    assert compiled.pins() == {"s": "strict@2.1.0"}
    node = compiled.spec.nodes["s"]
    assert node.kind == "tool"
    assert node.timeout == 60.0  # the tool's declared default
    assert node.retry is not None
    assert node.retry.max_attempts == 3
    assert len(compiled.hash) == 64


def test_unknown_node_references(registry: ToolRegistry) -> None:
    found = problems(
        tree(
            {
                "d": {
                    "kind": "decision",
                    "branches": [{"to": "nowhere", "when": "true"}, {"to": "e"}],
                },
                "t": tool_node("echo", next="ghost", on_error="spectre"),
                "e": end(),
            },
            start="d",
        ),
        registry,
    )
    assert found["nodes.d.branches[0].to"] == "unknown node 'nowhere'"
    assert found["nodes.t.next"] == "unknown node 'ghost'"
    assert found["nodes.t.on_error"] == "unknown node 'spectre'"


def test_unknown_start(registry: ToolRegistry) -> None:
    assert problems(tree({"e": end()}, start="missing"), registry)["start"] == (
        "unknown node 'missing'"
    )


def test_unreachable_nodes(registry: ToolRegistry) -> None:
    found = problems(
        tree({"a": tool_node("echo", next="e"), "e": end(), "orphan": end()}), registry
    )
    assert found == {"nodes.orphan": "unreachable from start node 'a'"}


def test_duplicate_ids_in_yaml_and_in_lists(registry: ToolRegistry) -> None:
    text = "name: t\nstart: a\nnodes:\n  a: {kind: end}\n  a: {kind: end}\n"
    assert "duplicate key 'a' at line 5" in str(problems(text, registry))
    listed = {"name": "t", "start": "a", "nodes": [{"id": "a", "kind": "end"}] * 2}
    assert "duplicate node id 'a'" in str(problems(listed, registry))


def test_unknown_tool_and_unmatched_version(registry: ToolRegistry) -> None:
    found = problems(
        tree(
            {
                "a": tool_node("nosuch@^1", next="b"),
                "b": tool_node("strict@^3", {"query": "x"}, next="c"),
                "c": tool_node("router", next="e"),
                "e": end(),
            }
        ),
        registry,
    )
    assert found["nodes.a.tool"] == "unknown tool 'nosuch'"
    assert found["nodes.b.tool"] == ("no version of 'strict' matches '^3' (registered: 2.1.0)")
    assert found["nodes.c.tool"] == "'router' is a decision, not a tool"


def test_arguments_checked_against_the_input_schema(registry: ToolRegistry) -> None:
    found = problems(
        tree(
            {
                "s": tool_node("strict@2", {"limit": 500, "mode": "fuzzy", "colour": 1}, next="e"),
                "e": end(),
            }
        ),
        registry,
    )
    assert found["nodes.s.args.limit"] == "Input should be less than or equal to 100"
    assert "should match pattern" in found["nodes.s.args.mode"]
    assert found["nodes.s.args.colour"].startswith("unknown argument for strict@2.1.0")
    assert found["nodes.s.args.query"] == "Field required"


def test_templated_arguments_are_checked_at_run_time_only(registry: ToolRegistry) -> None:
    compiled = compile_tree(
        tree(
            {"s": tool_node("strict@2", {"query": "{{ inputs.q }}", "limit": "{{ inputs.n }}"})},
            inputs={"q": {"type": "string"}, "n": {"type": "integer"}},
        ),
        registry,
    )
    node = compiled.spec.nodes["s"]
    assert isinstance(node, ToolNode)
    assert node.args["limit"] == "{{ inputs.n }}"


def test_loops_need_a_bound(registry: ToolRegistry) -> None:
    found = problems(
        tree(
            {
                "d": {"kind": "decision", "branches": [{"to": "t", "when": "true"}, {"to": "e"}]},
                "t": tool_node("echo", next="d"),
                "e": end(),
            }
        ),
        registry,
    )
    assert found["nodes.d"].startswith("loop d -> t -> d has no bound")


def test_a_bounded_loop_compiles_and_tree_limit_applies(registry: ToolRegistry) -> None:
    nodes = {
        "d": {"kind": "decision", "branches": [{"to": "t", "when": "true"}, {"to": "e"}]},
        "t": tool_node("echo", next="d"),
        "e": end(),
    }
    compiled = compile_tree(tree(nodes, limits={"max_passes": 4}), registry)
    decision = compiled.spec.nodes["d"]
    assert isinstance(decision, DecisionNode)
    assert decision.max_passes == 4


def test_on_limit_that_re_enters_the_loop_is_not_a_bound(registry: ToolRegistry) -> None:
    nodes = {
        "d": {
            "kind": "decision",
            "max_passes": 3,
            "on_limit": "t",
            "branches": [{"to": "t", "when": "true"}, {"to": "e"}],
        },
        "t": tool_node("echo", next="d"),
        "e": end(),
    }
    assert "has no bound" in problems(tree(nodes), registry)["nodes.d"]


def test_loops_through_user_input_are_bounded_by_the_user(registry: ToolRegistry) -> None:
    nodes = {
        "ask": {"kind": "input", "prompt": "?", "save_as": "x", "timeout": "1h", "next": "t"},
        "t": tool_node("echo", next="ask"),
    }
    compile_tree(tree(nodes), registry)


def test_expression_syntax_errors(registry: ToolRegistry) -> None:
    found = problems(
        tree(
            {
                "d": {"kind": "decision", "branches": [{"to": "t", "when": "1 +"}, {"to": "e"}]},
                "t": tool_node("echo", {"value": "{{ inputs. }}"}, next="e"),
                "e": end({"x": "{{ (1 }}"}),
            }
        ),
        registry,
    )
    assert found["nodes.d.branches[0].when"].startswith("syntax error: unexpected 'end")
    assert found["nodes.t.args.value"].startswith("syntax error: expected a field name")
    assert found["nodes.e.output.x"].startswith("syntax error: expected ')'")


def test_references_are_checked(registry: ToolRegistry) -> None:
    found = problems(
        tree(
            {
                "t": tool_node(
                    "echo",
                    {
                        "value": [
                            "{{ inputs.nope }}",
                            "{{ state.unset }}",
                            "{{ results.ghost }}",
                            "{{ tools.query }}",
                            "{{ bogus.x }}",
                        ]
                    },
                    next="e",
                ),
                "e": end(),
            },
            inputs={"q": {"type": "string"}},
        ),
        registry,
    )
    assert found["nodes.t.args.value[0]"] == "unknown input 'nope' (declared: q)"
    assert "unknown state key 'unset'" in found["nodes.t.args.value[1]"]
    assert found["nodes.t.args.value[2]"] == "unknown node 'ghost' in results"
    assert found["nodes.t.args.value[3]"] == "tool 'query' is not used in this tree"
    assert found["nodes.t.args.value[4]"].startswith("unknown name 'bogus'")


def test_rules_decisions_need_a_final_otherwise(registry: ToolRegistry) -> None:
    found = problems(
        tree(
            {
                "d": {"kind": "decision", "branches": [{"to": "e", "when": "true"}]},
                "d2": {"kind": "decision", "branches": [{"to": "e"}, {"to": "f", "when": "1"}]},
                "e": end(),
                "f": end(),
            },
            start="d",
        ),
        registry,
    )
    assert "needs a last branch without `when` or `requires`" in found["nodes.d.branches"]
    assert "must be last; it hides: f" in found["nodes.d2.branches[0]"]


def test_shape_errors_come_with_paths(registry: ToolRegistry) -> None:
    found = problems(
        {
            "name": "t",
            "start": "a",
            "nodes": {"a": {"kind": "tool", "tool": "echo", "timeout": "soon"}, "b": {"kind": "x"}},
        },
        registry,
    )
    assert "is not a duration" in found["nodes.a.timeout"]
    assert "does not match any of the expected tags" in found["nodes.b"]


def test_all_errors_are_reported_at_once(registry: ToolRegistry) -> None:
    found = problems(
        tree(
            {
                "a": tool_node("nosuch", next="b"),
                "b": tool_node("strict@2", {"limit": 0, "query": "q"}, next="zz"),
                "c": end(),
            }
        ),
        registry,
    )
    assert set(found) == {"nodes.a.tool", "nodes.b.args.limit", "nodes.b.next"}


def test_subtrees_compile_recursively_with_prefixed_paths(registry: ToolRegistry) -> None:
    child = TreeSpec.model_validate(tree({"x": tool_node("nosuch", next="e"), "e": end()}))
    found = problems(
        tree({"s": {"kind": "subtree", "tree": "child", "next": "e"}, "e": end()}),
        registry,
        load_tree=lambda name: child if name == "child" else None,
    )
    assert found == {"nodes.s.tree(child).nodes.x.tool": "unknown tool 'nosuch'"}
    missing = problems(
        tree({"s": {"kind": "subtree", "tree": "nope", "next": "e"}, "e": end()}), registry
    )
    assert missing == {"nodes.s.tree": "unknown tree 'nope'"}


def test_subtree_cycles_are_rejected(registry: ToolRegistry) -> None:
    selfish = TreeSpec.model_validate(
        tree({"s": {"kind": "subtree", "tree": "t", "next": "e"}, "e": end()})
    )
    found = problems(selfish, registry, load_tree=lambda name: selfish)
    assert any("includes itself" in message for message in found.values())


def test_parallel_branches_must_reach_the_join(registry: ToolRegistry) -> None:
    found = problems(
        tree(
            {
                "p": {"kind": "parallel", "branches": ["a", "b"], "join": "j"},
                "a": tool_node("echo", next="j"),
                "b": tool_node("echo", next="stop"),
                "stop": end(),
                "j": end(),
            }
        ),
        registry,
    )
    assert found == {"nodes.p.branches[1]": "branch 'b' reaches end node 'stop' before join 'j'"}


def test_deprecated_tools_compile_with_a_warning(registry: ToolRegistry) -> None:
    compiled = compile_tree(tree({"a": tool_node("legacy", next="e"), "e": end()}), registry)
    assert compiled.warnings == ("nodes.a.tool: legacy@1.0.0 is deprecated: use echo@^2",)


def test_router_decisions_pin_their_activity(registry: ToolRegistry) -> None:
    compiled = compile_tree(
        tree(
            {
                "d": {
                    "kind": "decision",
                    "strategy": "router",
                    "branches": [{"to": "e", "description": "x"}],
                },
                "e": end(),
            },
            inputs={"question": {"type": "string"}},
        ),
        registry,
    )
    assert compiled.pins() == {"d": "router@1.1.0"}  # the newest router
    decision = compiled.spec.nodes["d"]
    assert isinstance(decision, DecisionNode)
    assert decision.prompt == "{{ inputs.question }}"


def test_a_decision_can_pin_an_older_router(registry: ToolRegistry) -> None:
    doc = tree(
        {
            "d": {
                "kind": "decision",
                "strategy": "router",
                "using": "router@~1.0",
                "branches": [{"to": "e", "description": "x"}],
            },
            "e": end(),
        },
        inputs={"question": {"type": "string"}},
    )
    assert compile_tree(doc, registry).pins() == {"d": "router@1.0.0"}


def test_invalid_yaml_is_a_compile_error(registry: ToolRegistry) -> None:
    found = problems("name: [unclosed", registry)
    assert list(found) == [""]
    assert "not valid YAML" in found[""]

from __future__ import annotations

import pytest

from workflows.expressions import EvaluationError
from workflows.templating import check, expressions_in, render

SCOPE = {"inputs": {"q": "hello", "n": 3, "items": [1, 2]}, "state": {}}


def test_whole_placeholder_keeps_the_type() -> None:
    assert render("{{ inputs.n }}", SCOPE) == 3
    assert render("  {{ inputs.items }} ", SCOPE) == [1, 2]
    assert render("{{ state.missing }}", SCOPE) is None


def test_mixed_text_renders_to_a_string() -> None:
    assert render("n={{ inputs.n }}, q={{ inputs.q }}", SCOPE) == "n=3, q=hello"
    assert render("items: {{ inputs.items }}", SCOPE) == "items: [1, 2]"
    assert render("missing: [{{ state.x }}]", SCOPE) == "missing: []"


def test_nested_values_render_recursively() -> None:
    value = {"a": ["{{ inputs.n }}", {"b": "x{{ inputs.q }}"}], "c": 5}
    assert render(value, SCOPE) == {"a": [3, {"b": "xhello"}], "c": 5}


def test_errors_name_the_path() -> None:
    with pytest.raises(EvaluationError, match=r"args\.a\[1\]: .*division by zero"):
        render({"a": ["ok", "{{ 1 / 0 }}"]}, SCOPE, "args")


def test_check_reports_syntax_errors_with_paths() -> None:
    problems = check({"x": "{{ 1 + }}", "y": ["fine {{ inputs.q }}", "{{ ) }}"]}, "args")
    assert [path for path, _ in problems] == ["args.x", "args.y[1]"]


def test_expressions_in_lists_every_placeholder() -> None:
    found = list(expressions_in({"a": "{{ x }} and {{ y }}", "b": [{"c": "{{ z }}"}]}))
    assert found == [("a", "x"), ("a", "y"), ("b[0].c", "z")]

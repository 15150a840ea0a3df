from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.expressions import (
    MAX_SIZE,
    EvaluationError,
    ExpressionSyntaxError,
    evaluate,
    parse,
)

SCOPE: dict[str, Any] = {
    "inputs": {"question": "Refund please", "limit": 3, "tags": ["a", "b"]},
    "state": {"count": 2, "notes": ["x"], "flag": None},
    "results": {"search": {"hits": [{"title": "One", "score": 0.9}, {"title": "Two"}]}},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 // 2", 3),
        ("7 % 4", 3),
        ("-inputs.limit", -3),
        ("10 / 4", 2.5),
        ("'a' + \"b\"", "ab"),
        ("'it\\'s'", "it's"),
        ("inputs.limit > 2 and state.count == 2", True),
        ("inputs.limit > 5 or state.count < 1", False),
        ("not state.flag", True),
        ("1 < state.count < 3", True),
        ("1 < state.count < 2", False),
        ("'a' in inputs.tags", True),
        ("'z' not in inputs.tags", True),
        ("'fund' in inputs.question", True),
        ("results.search.hits[0].title", "One"),
        ("results.search.hits[-1].title", "Two"),
        ("results.search.hits[5].title", None),
        ("results.missing.deeper", None),
        ("results['search'].hits[0]['score']", 0.9),
        ("len(results.search.hits)", 2),
        ("pluck(results.search.hits, 'title')", ["One", "Two"]),
        ("join(pluck(results.search.hits, 'title'), ' | ')", "One | Two"),
        ("lower(inputs.question)", "refund please"),
        ("contains(lower(inputs.question), 'refund')", True),
        ("default(state.flag, 'none')", "none"),
        ("defined(state.flag)", False),
        ("state.notes + ['y']", ["x", "y"]),
        ("inputs.tags[0:1]", ["a"]),
        ("'yes' if state.count > 1 else 'no'", "yes"),
        ("'yes' if state.count > 5 else 'no'", "no"),
        ("[1, 2, 3]", [1, 2, 3]),
        ("true and null", None),
        ("max(1, 5, 3)", 5),
        ("min([4, 2])", 2),
        ("round(2.456, 1)", 2.5),
        ("first(inputs.tags)", "a"),
        ("last([])", None),
        ("keys(inputs)", ["question", "limit", "tags"]),
        ("json([1, 'a'])", '[1,"a"]'),
    ],
)
def test_evaluates(source: str, expected: Any) -> None:
    assert evaluate(source, SCOPE) == expected


def test_null_never_orders() -> None:
    assert evaluate("state.flag > 1", SCOPE) is False
    assert evaluate("state.flag < 1", SCOPE) is False
    assert evaluate("state.flag == null", SCOPE) is True


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ("1 +", 4),
        ("(1 + 2", 7),
        ("a ==", 5),
        ("foo(1)", 1),
        ("1 $ 2", 3),
        ("'unterminated", 1),
        ("", 1),
        ("a.", 3),
        ("x if y", 7),
    ],
)
def test_syntax_errors_carry_a_position(source: str, column: int) -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        parse(source)
    assert info.value.position is not None
    assert info.value.position + 1 == column


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("unknown_name", "unknown name"),
        ("1 / 0", "division by zero"),
        ("'a' - 1", "needs numbers"),
        ("'a' < 1", "cannot compare"),
        ("int('x')", "int()"),
        ("'ab' * 1000000", "larger than"),
        ("-'a'", "needs a number"),
    ],
)
def test_evaluation_errors_are_clear(source: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        evaluate(source, SCOPE)


def test_no_python_escape_hatches() -> None:
    """Attribute access never reaches Python internals; there is no way to call eval."""
    assert evaluate("inputs.__class__", SCOPE) is None
    assert evaluate("inputs.tags.__len__", SCOPE) is None
    with pytest.raises(ExpressionSyntaxError, match="unknown function"):
        parse("__import__('os')")
    with pytest.raises(ExpressionSyntaxError):
        parse("lambda: 1")


def test_size_limits_stop_memory_bombs() -> None:
    with pytest.raises(EvaluationError, match="larger than"):
        evaluate("[1] * " + str(MAX_SIZE + 1), SCOPE)
    with pytest.raises(ExpressionSyntaxError, match="longer than"):
        parse("1+" * 3000 + "1")
    with pytest.raises(ExpressionSyntaxError, match="nested too deeply"):
        parse("(" * 100 + "1" + ")" * 100)


def test_root_names_and_paths() -> None:
    parsed = parse("len(results.search.hits) > inputs['limit'] and state.count")
    assert parsed.root_names() == {"results", "inputs", "state"}
    assert set(parsed.paths()) == {
        ("results", "search", "hits"),
        ("inputs", "limit"),
        ("state", "count"),
    }


@given(st.integers(-10_000, 10_000), st.integers(-10_000, 10_000))
def test_arithmetic_matches_python(a: int, b: int) -> None:
    scope = {"a": a, "b": b}
    assert evaluate("a + b * 2 - (a - b)", scope) == a + b * 2 - (a - b)
    assert evaluate("a < b", scope) == (a < b)
    if b != 0:
        assert evaluate("a // b", scope) == a // b
        assert evaluate("a % b", scope) == a % b


@given(st.text(max_size=60))
def test_parser_never_crashes_on_garbage(source: str) -> None:
    try:
        parsed = parse(source)
    except ExpressionSyntaxError:
        return
    with contextlib.suppress(EvaluationError):
        parsed.evaluate(SCOPE)

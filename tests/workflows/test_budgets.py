"""Expression budgets: refused before allocating, reported at the node path."""

from __future__ import annotations

import contextlib
import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.budgets import (
    MAX_RESULT_SIZE,
    MAX_SIZE,
    MAX_STEPS,
    Budget,
    BudgetExceeded,
    json_size,
    text_size,
)
from workflows.expressions import BudgetError, EvaluationError, evaluate, parse, to_text
from workflows.templating import TemplateError, render

BIG = "x" * 100_000
SCOPE: dict[str, Any] = {"inputs": {"text": BIG, "n": 3}}
PEAK_BYTES = 20_000_000  # far below what any of these would allocate unchecked (>= 1 GB)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=25,
)


def peak_of(action: Callable[[], Any]) -> int:
    tracemalloc.start()
    with contextlib.suppress(EvaluationError, TemplateError):
        action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize(
    "source",
    [
        "[[1] * 300] * 100000",  # 3 * 10^7 items through shared references
        "join([inputs.text] * 100000, '')",  # 10 GB of text
        "join([inputs.text, inputs.text], '')",  # 200 KB: over MAX_SIZE
        "json([[inputs.text] * 9] * 1000)",
        "str([[1] * 300] * 3000)",
        "inputs.text * 100000",
        "inputs.text + inputs.text",
        "lower([[inputs.text] * 9] * 100)",
    ],
)
def test_oversized_results_are_refused_before_allocating(source: str) -> None:
    with pytest.raises(EvaluationError, match=r"larger than|would pass|budget"):
        evaluate(source, SCOPE)
    assert peak_of(lambda: evaluate(source, SCOPE)) < PEAK_BYTES


@pytest.mark.parametrize(
    "template",
    [
        "{{ [[1] * 300] * 100000 }}",
        "{{ join([inputs.text] * 100000, '') }}",
        "a {{ [inputs.text] * 9 }} b {{ [inputs.text] * 9 }} c" * 3,
        "{{ [" + ", ".join(["inputs.text"] * 25) + "] }}",
    ],
)
def test_templates_fail_at_the_path_without_allocating(template: str) -> None:
    with pytest.raises(TemplateError) as info:
        render({"q": template}, SCOPE, "nodes.t.args")
    assert info.value.path == "nodes.t.args.q"
    assert str(info.value).startswith("nodes.t.args.q: ")
    assert peak_of(lambda: render({"q": template}, SCOPE, "nodes.t.args")) < PEAK_BYTES


def test_budget_errors_are_marked_as_such() -> None:
    with pytest.raises(BudgetError):
        evaluate("[[1] * 300] * 100000", SCOPE)
    with pytest.raises(TemplateError) as info:
        render("{{ [[1] * 300] * 100000 }}", SCOPE, "p")
    assert info.value.over_budget
    with pytest.raises(TemplateError) as plain:
        render("{{ 1 / 0 }}", SCOPE, "p")
    assert not plain.value.over_budget


def test_the_step_budget_is_shared_by_one_render() -> None:
    """Each placeholder alone fits; together they pass the budget of one render."""
    walk = "{{ len(json([[1] * 200] * 240)) > 0 }}"  # ~48,000 steps each
    assert render([walk] * 4, SCOPE) == [True] * 4
    with pytest.raises(TemplateError, match=f"budget of {MAX_STEPS} steps") as info:
        render([walk] * 5, SCOPE, "args")
    assert info.value.path == "args[4]"


def test_references_to_existing_data_are_not_measured() -> None:
    """A tool result bigger than the result limit may still be passed on by reference."""
    huge = {"rows": ["y" * 1000] * (MAX_RESULT_SIZE // 1000 + 1)}
    assert render("{{ results.big }}", {"results": {"big": huge}}) is huge
    with pytest.raises(TemplateError, match="larger than"):
        render("{{ default(results.big, 1) }}", {"results": {"big": huge}})


def test_values_within_the_limits_still_evaluate() -> None:
    assert len(evaluate("['abc'] * 40000", SCOPE)) == 40000
    assert len(evaluate("[[1] * 300] * 300", SCOPE)) == 300
    assert len(evaluate("join([inputs.text], '')", SCOPE)) == MAX_SIZE
    assert evaluate("len(str([1] * 1000))", SCOPE) > 1000


def test_unbounded_evaluation_keeps_the_old_rules() -> None:
    """What replays of histories recorded before the budgets use."""
    parsed = parse("len([[1] * 300] * 10000)")
    with pytest.raises(BudgetError):
        parsed.evaluate(SCOPE)
    assert parsed.evaluate(SCOPE, bounded=False) == 10000
    assert render("{{ len([[1] * 300] * 10000) }}", SCOPE, bounded=False) == 10000


def test_a_budget_refuses_once_spent() -> None:
    budget = Budget(3)
    budget.spend(3)
    with pytest.raises(BudgetExceeded):
        budget.spend(1)


@given(json_values)
def test_sizes_are_lower_bounds_of_the_encoded_text(value: Any) -> None:
    assert json_size(value, 10**9) <= len(json.dumps(value, separators=(",", ":")))
    assert text_size(value, 10**9) <= len(to_text(value))

"""Run inputs checked through the one JSON Schema validator (activities/json_inputs.py).

The reference below is the hand-written check this replaced (on the type table that
input defaults are still checked with); the property test shows the JSON Schema path
reports exactly the same problems, in the same order.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from activities.json_inputs import JsonProblem, json_problems, object_schema
from workflows.run_inputs import input_problems, inputs_schema
from workflows.spec import JSON_TYPES, InputSpec


def reference(declared: dict[str, InputSpec], inputs: dict[str, Any]) -> list[tuple[str, str]]:
    """The checks as they were before the JSON Schema path (workflows/launch.py)."""
    found = [
        (name, "unknown input (declared: " + ", ".join(sorted(declared)) + ")")
        for name in inputs
        if name not in declared
    ]
    for name, spec in declared.items():
        if name not in inputs:
            if spec.required and spec.default is None:
                found.append((name, "required"))
            continue
        if spec.type == "any":
            continue
        value = inputs[name]
        if (isinstance(value, bool) and spec.type != "boolean") or not isinstance(
            value, JSON_TYPES[spec.type]
        ):
            found.append((name, f"expected {spec.type}, got {type(value).__name__}"))
    return found


KINDS = ["string", "integer", "number", "boolean", "object", "array", "any"]
NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2)
    ),
    max_leaves=4,
)
SPECS = st.builds(
    InputSpec,
    type=st.sampled_from(KINDS),
    required=st.booleans(),
    default=st.none() | st.just("x"),
)


@settings(max_examples=300, deadline=None)
@given(
    declared=st.dictionaries(NAMES, SPECS, max_size=4),
    inputs=st.dictionaries(NAMES, JSON, max_size=4),
)
def test_the_json_schema_path_reports_what_the_type_table_did(
    declared: dict[str, InputSpec], inputs: dict[str, Any]
) -> None:
    got = [(p.path, p.message) for p in input_problems(declared, inputs)]
    assert got == reference(declared, inputs)


def test_integers_are_strict_and_bools_are_not_numbers() -> None:
    declared = {"n": InputSpec(type="integer"), "x": InputSpec(type="number")}
    assert input_problems(declared, {"n": 5.0, "x": True}) == [
        JsonProblem("n", "expected integer, got float"),
        JsonProblem("x", "expected number, got bool"),
    ]
    assert input_problems(declared, {"n": 5, "x": 5}) == []


def test_the_inputs_block_becomes_a_closed_object_schema() -> None:
    schema = inputs_schema(
        {
            "q": InputSpec(),
            "extra": InputSpec(type="any", required=False),
            "d": InputSpec(default=1),
        }
    )
    assert schema == {
        "type": "object",
        "properties": {"q": {"type": "string"}, "extra": {}, "d": {"type": "string"}},
        "required": ["q"],
        "additionalProperties": False,
    }


def test_other_keywords_keep_the_validators_message_with_the_nested_path() -> None:
    schema = object_schema({"limit": {"type": "integer", "maximum": 10}}, ["limit"])
    assert json_problems(schema, {"limit": 11}) == [
        JsonProblem("limit", "11 is greater than the maximum of 10")
    ]
    nested = object_schema(
        {"filter": {"type": "object", "properties": {"k": {"type": "string"}}}}, []
    )
    assert json_problems(nested, {"filter": {"k": 1}}) == [
        JsonProblem("filter.k", "expected string, got int")
    ]

"""A tree's `inputs` block as a JSON Schema, and run inputs checked against it.

Client-side (the API and the CLI call it through `temporal_client.run_start.check_inputs`);
the interpreter never imports it. The check itself is `activities.json_inputs`, the
one JSON Schema validator for inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from activities.json_inputs import JsonProblem, json_problems, object_schema
from workflows.spec import InputSpec


def inputs_schema(declared: Mapping[str, InputSpec]) -> dict[str, Any]:
    """The JSON Schema of run inputs: declared names only, typed, required unless defaulted."""
    return object_schema(
        {
            name: {} if spec.type == "any" else {"type": spec.type}
            for name, spec in declared.items()
        },
        [name for name, spec in declared.items() if spec.required and spec.default is None],
    )


def input_problems(
    declared: Mapping[str, InputSpec], inputs: Mapping[str, Any]
) -> list[JsonProblem]:
    """What is wrong with `inputs` against the declared inputs (paths relative to them)."""
    return json_problems(inputs_schema(declared), inputs)

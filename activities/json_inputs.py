"""Inputs described by a JSON Schema object, checked with the `jsonschema` library.

One validator for "does this JSON object fit its declared inputs": each problem names
the input's path and says what is wrong, in Treeflow's words (`required`,
`unknown input (declared: ...)`, `expected integer, got str`; other keywords keep
jsonschema's message). JSON types are strict: a bool is not a number and `5.0` is
not an integer. Used for run inputs (`workflows.run_inputs`, client side: the API and
the CLI) and for declarative tools' arguments (`activities.declarative.model`, where
the compiler, the decision agent and the worker check them); it lives at the tools'
layer so both sides can import it. The workflow sandbox never imports it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError


def _is_integer(_checker: Any, value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_Strict = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)
VALIDATOR_CACHE_SIZE = 512
"""Distinct input schemas whose compiled validator is kept."""


@dataclass(frozen=True, slots=True)
class JsonProblem:
    """One input that does not fit: where (`ticket_id`, `filters.limit`) and why."""

    path: str
    message: str


def object_schema(
    properties: Mapping[str, Mapping[str, Any]], required: list[str]
) -> dict[str, Any]:
    """A closed JSON Schema object: these properties, these required, nothing else."""
    return {
        "type": "object",
        "properties": {name: dict(schema) for name, schema in properties.items()},
        "required": required,
        "additionalProperties": False,
    }


@lru_cache(maxsize=VALIDATOR_CACHE_SIZE)
def _validator(canonical: str) -> Any:
    return _Strict(json.loads(canonical))


def json_problems(schema: Mapping[str, Any], value: Mapping[str, Any]) -> list[JsonProblem]:
    """Problems of the object `value` against the object `schema`; none when it fits.

    Unknown inputs come first (in the order given), then the declared ones in the
    order they are declared.
    """
    validator = _validator(json.dumps(schema, sort_keys=True))
    declared = list(schema.get("properties", {}))
    problems: list[tuple[tuple[int, int], JsonProblem]] = []
    for error in validator.iter_errors(value):
        problems.extend(_described(error, declared, list(value)))
    problems.sort(key=lambda ranked: ranked[0])
    # `required` reports each missing name once per error: keep one of each.
    return list(dict.fromkeys(problem for _, problem in problems))


def _described(
    error: ValidationError, declared: list[str], given: list[str]
) -> list[tuple[tuple[int, int], JsonProblem]]:
    """Treeflow's wording for one jsonschema error, ranked for a stable order."""
    if not error.absolute_path and error.validator == "additionalProperties":
        names = ", ".join(sorted(declared))  # stable whatever order storage kept
        return [
            ((0, given.index(name)), JsonProblem(name, f"unknown input (declared: {names})"))
            for name in given
            if name not in declared
        ]
    if not error.absolute_path and error.validator == "required":
        return [
            ((1, declared.index(name)), JsonProblem(name, "required"))
            for name in error.validator_value
            if name not in given
        ]
    path = ".".join(str(part) for part in error.absolute_path)
    top = str(error.absolute_path[0]) if error.absolute_path else ""
    rank = (1, declared.index(top)) if top in declared else (2, 0)
    if error.validator == "type":
        expected = error.validator_value
        return [
            (rank, JsonProblem(path, f"expected {expected}, got {type(error.instance).__name__}"))
        ]
    return [(rank, JsonProblem(path, error.message))]

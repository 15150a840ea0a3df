"""Compiled trees decoded once per worker process instead of once per run.

Every run carries its compiled tree in its input, and validating that tree (nested
models, Python field checks) was the largest single cost of starting a run on the
worker, about twice the interpreter's own work for a 5-step chain (py-spy,
bench/overhead.py). Runs of one tree carry byte-identical trees, so the decoded,
frozen `CompiledTree` is shared between them, keyed by the tree's exact JSON.

Sharing is safe because a run never changes its tree: the models are frozen and the
interpreter copies what it writes to (state, rendered arguments). A memo of a pure
decode, like `workflows.expressions.parse`, it changes no history and no result.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from pydantic import ValidationError, ValidationInfo, ValidatorFunctionWrapHandler

from workflows.compiled import CompiledTree

MAX_CACHED_TREES = 128
"""Distinct compiled trees kept decoded per worker process (least recently used go)."""


def decode_tree(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """A `RunRequest.tree` wrap validator: the shared decoded tree for plain JSON data.

    Anything else (a `CompiledTree` instance, validation with a context, data that
    does not fit the model) takes the ordinary path, so errors read as before.
    """
    if not isinstance(value, dict) or info.context:
        return handler(value)
    try:
        key = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return _decoded(key)
    except (TypeError, ValueError, ValidationError):
        return handler(value)


@lru_cache(maxsize=MAX_CACHED_TREES)
def _decoded(text: str) -> CompiledTree:
    return CompiledTree.model_validate_json(text)

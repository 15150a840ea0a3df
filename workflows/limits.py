"""Every limit on a tree's size, shape and numbers, in one place.

The CLI (`treeflow compile`, `treeflow run`) and the API (tree create, version,
compile and template instantiate routes, run starts) enforce the same values,
because all of them load trees through `workflows.documents` and compile them
through `workflows.compiler`. Users read these in docs/tree-authoring.md (trees)
and docs/api.md (request bodies and run inputs); keep those tables in step.
"""

from __future__ import annotations

from typing import Final

# ---------------------------------------------------------------- documents (YAML/JSON text)

MAX_SOURCE_BYTES: Final = 512 * 1024
"""UTF-8 bytes of a tree's text, checked before parsing."""

MAX_YAML_ALIASES: Final = 200
"""Alias references (`*name`) in one YAML document."""

MAX_DOCUMENT_VALUES: Final = 50_000
"""Values (scalars, lists, mappings) in a document once YAML aliases are expanded:
a few hundred bytes of anchors can otherwise stand for billions of values."""

MAX_NESTING_DEPTH: Final = 100
"""Nested lists/mappings in a tree document (inline subtrees included) and in any
JSON request body, checked before anything recurses into the data."""

# ---------------------------------------------------------------- tree shape

MAX_NODES: Final = 1_000
"""Nodes in one tree, and in all its compiled subtrees together (each distinct
subtree counted once)."""

MAX_SUBTREE_DEPTH: Final = 20
"""Subtrees nested inside subtrees (inline `spec` or named `tree`)."""

MAX_ID_LENGTH: Final = 64
"""Characters of a node id, branch id, input name, state key or `save_as` key."""

MAX_NAME_LENGTH: Final = 200
"""Characters of other names: tool references, named subtrees, error types, keywords."""

MAX_COMPILED_BYTES: Final = 1024 * 1024
"""JSON bytes of a compiled tree with its subtrees; it travels as workflow input and
Temporal refuses payloads over 2 MB by default."""

MAX_QUOTED_CHARS: Final = 120
"""Characters of a user value (an id, a key, a path segment) quoted in an error."""

MAX_PROBLEM_TEXT_CHARS: Final = 1_000
"""Characters of one compile problem's path or message (longer ones are cut, with a marker)."""

# ---------------------------------------------------------------- expressions

MAX_EXPRESSION_LENGTH: Final = 4_000
"""Characters of one rule or `{{ }}` placeholder, checked before tokenizing."""

MAX_EXPRESSION_DEPTH: Final = 64
"""Nesting of one expression (brackets, unary operators, chained operators), counted
while parsing so the parser and the evaluator never exhaust the stack."""

# ---------------------------------------------------------------- numbers

MAX_DURATION_SECONDS: Final = 366 * 86_400
"""Any timeout (tool, decision, input, heartbeat): at most 366 days."""

MAX_RETRY_INTERVAL_SECONDS: Final = 86_400
"""A retry's `initial_interval` and `max_interval`: at most one day."""

MAX_RETRY_ATTEMPTS: Final = 100
MAX_RETRY_BACKOFF: Final = 10.0
MAX_PASSES: Final = 1_000
MAX_STEPS: Final = 100_000
MAX_CONTINUE_AS_NEW_AFTER: Final = 40_000

MAX_VERSION_NUMBER: Final = 1_000_000
"""A stored tree version number (run, publish, diff, version routes)."""

# ---------------------------------------------------------------- run inputs

MAX_INPUT_DEPTH: Final = 32
"""Nesting of a run input value (lists/mappings inside an input)."""

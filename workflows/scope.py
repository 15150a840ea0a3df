"""The names a tree's expressions can read: one definition for the compiler and the run.

The compiler checks references against `SCOPE_NAMES`; the interpreter builds a
`RunScope`, so mypy fails if the two ever disagree about a name.
"""

from __future__ import annotations

from typing import Any, TypedDict


class RunScope(TypedDict):
    """What `{{ }}` templates and rule expressions see during a run."""

    inputs: dict[str, Any]
    state: dict[str, Any]
    results: dict[str, Any]
    tools: dict[str, Any]
    errors: dict[str, list[str]]
    passes: dict[str, int]
    tasks: list[dict[str, Any]]
    run: dict[str, Any]
    conversation: dict[str, Any]
    """Earlier turns of the conversation this run answers (workflows/conversation_models.py);
    `{"id": None, "turn": 0, "turns": [], "last": None}` in a plain run."""


SCOPE_NAMES: frozenset[str] = frozenset(RunScope.__required_keys__)

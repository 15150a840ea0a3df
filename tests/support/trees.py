"""Small helpers to write trees in tests."""

from __future__ import annotations

from typing import Any

from workflows.compiled import CompiledTree


def tree(nodes: dict[str, Any], start: str | None = None, **extra: Any) -> dict[str, Any]:
    """A tree document with sensible defaults (name `t`, start = first node)."""
    return {"name": "t", "start": start or next(iter(nodes)), "nodes": nodes, **extra}


def tool_node(tool: str, args: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"kind": "tool", "tool": tool, "args": args or {}, **extra}


def end(output: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": "end", "output": output or {}}


def with_nested_copies(compiled: CompiledTree) -> CompiledTree:
    """`compiled` in the storage form compilers used before subtrees were stored once:
    every subtree entry carries full copies of the subtrees below it."""

    def full(tree_hash: str) -> CompiledTree:
        entry = compiled.subtrees[tree_hash]
        below = compiled.child(tree_hash).subtrees
        return entry.model_copy(update={"subtrees": {h: full(h) for h in below}})

    return compiled.model_copy(update={"subtrees": {h: full(h) for h in compiled.subtrees}})

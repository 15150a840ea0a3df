"""Small helpers to write trees in tests."""

from __future__ import annotations

from typing import Any


def tree(nodes: dict[str, Any], start: str | None = None, **extra: Any) -> dict[str, Any]:
    """A tree document with sensible defaults (name `t`, start = first node)."""
    return {"name": "t", "start": start or next(iter(nodes)), "nodes": nodes, **extra}


def tool_node(tool: str, args: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"kind": "tool", "tool": tool, "args": args or {}, **extra}


def end(output: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": "end", "output": output or {}}

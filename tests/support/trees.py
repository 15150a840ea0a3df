"""Small helpers to write trees in tests."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from workflows.compiled import CompiledTree


def tree(nodes: dict[str, Any], start: str | None = None, **extra: Any) -> dict[str, Any]:
    """A tree document with sensible defaults (name `t`, start = first node)."""
    return {"name": "t", "start": start or next(iter(nodes)), "nodes": nodes, **extra}


def tool_node(tool: str, args: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"kind": "tool", "tool": tool, "args": args or {}, **extra}


def end(output: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": "end", "output": output or {}}


def yes_no(prompt: str, next: str, save_as: str = "answer", timeout: str = "1h") -> dict[str, Any]:
    """An input node asking `prompt` with the choices yes and no."""
    return {
        "kind": "input",
        "prompt": prompt,
        "choices": ["yes", "no"],
        "save_as": save_as,
        "timeout": timeout,
        "next": next,
    }


def greeting_tree(name: str, text: str, **extra: Any) -> dict[str, Any]:
    """`greet` (text_response) says `text`; the end node answers with it as `text`."""
    return {
        "name": name,
        **extra,
        "start": "greet",
        "nodes": {
            "greet": tool_node("text_response@^1", {"text": text}, next="done"),
            "done": end({"text": "{{ results.greet.text }}"}),
        },
    }


def decision(*branches: tuple[str, str | None], **extra: Any) -> dict[str, Any]:
    """A decision node: each branch is (target, condition), None for the fallback."""
    return {
        "kind": "decision",
        "branches": [
            {"to": to} if when is None else {"to": to, "when": when} for to, when in branches
        ],
        **extra,
    }


def rules_tree(output: dict[str, Any]) -> dict[str, Any]:
    """A tool chain with a rule decision: ``add`` x + 2, then ``echo`` "big" when the sum
    is over 10, else "small <sum>", then an end node with ``output``."""
    return tree(
        {
            "first": tool_node("add", {"a": "{{ inputs.x }}", "b": 2}, next="check"),
            "check": decision(("big", "results.first.sum > 10"), ("small", None)),
            "big": tool_node("echo", {"value": "big"}, next="done"),
            "small": tool_node("echo", {"value": "small {{ results.first.sum }}"}, next="done"),
            "done": end(output),
        },
        inputs={"x": {"type": "number"}},
    )


def retried_tree(fail_times: int, max_attempts: int) -> dict[str, Any]:
    """The ``flaky`` tool failing ``fail_times`` times under a retry policy of
    ``max_attempts`` (100 ms apart), then an end node with the attempt that succeeded."""
    return tree(
        {
            "f": tool_node(
                "flaky",
                {"fail_times": fail_times},
                retry={"max_attempts": max_attempts, "initial_interval": "100ms"},
                next="e",
            ),
            "e": end({"attempt": "{{ results.f.attempt }}"}),
        }
    )


def counting_loop_tree(output: dict[str, Any]) -> dict[str, Any]:
    """``add`` counts ``state.n`` from 0 to 30 through a decision looping back (31
    passes, 62 steps) in generations of 40 steps (continue-as-new), then ends with ``output``."""
    return tree(
        {
            "loop": decision(("work", "state.n < 30"), ("e", None), max_passes=40),
            "work": tool_node(
                "add", {"a": "{{ state.n }}", "b": 1}, set={"n": "{{ result.sum }}"}, next="loop"
            ),
            "e": end(output),
        },
        state={"n": 0},
        limits={"continue_as_new_after": 40},
    )


def with_nested_copies(compiled: CompiledTree) -> CompiledTree:
    """`compiled` in the storage form compilers used before subtrees were stored once:
    every subtree entry carries full copies of the subtrees below it."""

    def full(tree_hash: str) -> CompiledTree:
        entry = compiled.subtrees[tree_hash]
        below = compiled.child(tree_hash).subtrees
        return entry.model_copy(update={"subtrees": {h: full(h) for h in below}})

    return compiled.model_copy(update={"subtrees": {h: full(h) for h in compiled.subtrees}})


def tree_file(path: Path, source: str) -> Path:
    """`source` (an indented triple-quoted YAML tree) dedented and written to `path`."""
    path.write_text(textwrap.dedent(source))
    return path

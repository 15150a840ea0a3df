"""Shared helpers of the CLI: the default registry, template lookup and compilation."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

import templates
from activities.registry import ToolRegistry
from activities.tool_modules import build_registry
from workflows.compiled import CompiledTree
from workflows.compiler import CompileError, CompileIssue, compile_tree
from workflows.limits import MAX_SOURCE_BYTES
from workflows.spec import TreeSpec


@lru_cache(maxsize=1)
def default_registry() -> ToolRegistry:
    """The same registry the API and workers build (TREEFLOW_WORKER_TOOL_MODULES included)."""
    return build_registry()


def template_loader(name: str) -> TreeSpec | None:
    """Resolve `subtree: {tree: NAME}` against the built-in templates."""
    text = templates.tree_text(name)
    return TreeSpec.from_text(text) if text is not None else None


def compile_text(text: str | bytes, registry: ToolRegistry | None = None) -> CompiledTree:
    """Load (within `workflows.limits`) and compile a tree's text or bytes."""
    return compile_tree(text, registry or default_registry(), load_tree=template_loader)


def read_source(path: Path) -> bytes:
    """A tree file's bytes; a file over `MAX_SOURCE_BYTES` is refused without reading it."""
    size = path.stat().st_size
    if size > MAX_SOURCE_BYTES:
        message = f"tree source is {size} bytes; the limit is {MAX_SOURCE_BYTES}"
        raise CompileError([CompileIssue("", message)])
    return path.read_bytes()


def print_compile_error(console: Console, where: str, error: CompileError) -> None:
    """Every problem on its own line with its node path (user text printed verbatim)."""
    console.print(f"[red]{escape(where)}: {len(error.issues)} problem(s)[/red]")
    for issue in error.issues:
        path = escape(issue.path or "(tree)")
        console.print(f"  [bold]{path}[/bold]: {escape(issue.message)}", soft_wrap=True)


def resolve_tree(
    name_or_path: str, sample: str | None
) -> tuple[CompiledTree, dict[str, Any], dict[str, Any]]:
    """A compiled tree plus sample inputs and answers, from a template name or a file."""
    path = Path(name_or_path)
    if path.is_file():
        if sample is not None:
            raise ValueError("--sample applies to templates only")
        return compile_text(read_source(path)), {}, {}
    template = templates.load(name_or_path)
    chosen = template.samples[0] if template.samples and sample is None else None
    for candidate in template.samples:
        if candidate.name == sample:
            chosen = candidate
    if sample is not None and chosen is None:
        known = ", ".join(s.name for s in template.samples)
        raise ValueError(f"template '{template.name}' has no sample '{sample}' (samples: {known})")
    inputs = dict(chosen.inputs) if chosen else {}
    answers = dict(chosen.answers) if chosen else {}
    return compile_text(template.text), inputs, answers

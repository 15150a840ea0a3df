"""The CLI boundary: an ordinary error becomes a clean message and exit code 1, never a traceback.

Ordinary means anything a user can cause or fix: a tree that does not compile (every
problem printed with its node path), an unknown template or sample, an unreadable or
non-UTF-8 file, a tool module that does not import, Temporal out of reach. Anything
else is a bug: one line saying so, and the traceback only with ``TREEFLOW_DEBUG=1``.
"""

from __future__ import annotations

import os
import traceback

from rich.console import Console
from rich.markup import escape

DEBUG_ENV = "TREEFLOW_DEBUG"
MAX_PRINTED_ISSUES = 50
"""Compile problems printed one per line; the rest are counted."""
MAX_PRINTED_ERROR_CHARS = 2000
"""Longest single message printed (an error can quote a huge id or value)."""


def ordinary_errors() -> tuple[type[BaseException], ...]:
    """The error classes a user can cause (imported late: the CLI starts fast)."""
    from temporalio.exceptions import TemporalError

    return (
        ValueError,  # includes UnicodeDecodeError, JSON and pydantic validation errors
        LookupError,  # unknown template, sample or key
        OSError,  # missing or unreadable files, refused connections
        TemporalError,  # RPC failures talking to Temporal
        RuntimeError,  # Temporal client connection failures
    )


def report(error: BaseException, console: Console) -> int:
    """Print ``error`` for a person and return the exit code (always 1)."""
    from workflows.compiler import CompileError

    if isinstance(error, CompileError):
        console.print(f"[red]{len(error.issues)} problem(s) in the tree[/red]")
        for issue in error.issues[:MAX_PRINTED_ISSUES]:
            where = escape(_short(issue.path or "(tree)"))
            console.print(f"  [bold]{where}[/bold]: {escape(_short(issue.message))}")
        if len(error.issues) > MAX_PRINTED_ISSUES:
            console.print(f"  … and {len(error.issues) - MAX_PRINTED_ISSUES} more")
        return 1
    if os.environ.get(DEBUG_ENV):
        traceback.print_exception(error)
    if isinstance(error, ordinary_errors()):
        console.print(f"[red]error:[/red] {escape(_short(_message(error)))}")
        return 1
    console.print(
        f"[red]internal error[/red] ({type(error).__name__}): {escape(_short(str(error)))}"
        + ("" if os.environ.get(DEBUG_ENV) else f"; set {DEBUG_ENV}=1 for the traceback")
    )
    return 1


def _message(error: BaseException) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"the file is not UTF-8 text (byte {error.start}: {error.reason})"
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.strerror or error}: {error.filename}"
    text = str(error) or type(error).__name__
    if isinstance(error, KeyError):
        text = f"unknown key {text}"
    return text


def _short(text: str) -> str:
    return text if len(text) <= MAX_PRINTED_ERROR_CHARS else text[:MAX_PRINTED_ERROR_CHARS] + "…"

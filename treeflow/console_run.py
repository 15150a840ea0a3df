"""Show a run's progress in the terminal while it runs, then its result."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.spinner import Spinner
from rich.table import Table
from temporalio.client import WorkflowFailureError, WorkflowHandle

from treeflow.follow import InputRejected, answers_from, follow
from workflows.run_models import PendingInput, Progress, RunResult


def _progress_view(progress: Progress | None) -> Any:
    if progress is None:
        return Spinner("dots", text="starting…")
    table = Table.grid(padding=(0, 1))
    table.add_row("phase", f"[bold]{progress.phase}[/bold]")
    table.add_row("node", progress.current_node or "-")
    table.add_row("path", " → ".join(progress.path[-12:]))
    for pending in progress.waiting_for:
        table.add_row("waiting", f"{pending.node}: {pending.prompt.strip()[:100]}")
    return Spinner("dots", text=table)


async def follow_with_progress(
    console: Console,
    handle: WorkflowHandle[Any, Any],
    answers: dict[str, Any],
    url: str,
) -> int:
    """Follow a run with a live view; answer inputs from `answers` or by asking."""
    provide_sample = answers_from(answers)

    async def answer(pending: PendingInput) -> Any | None:
        value = await provide_sample(pending)
        if value is not None:
            live.console.print(f"  answering [bold]{pending.node}[/bold] with {value!r} (sample)")
            return value
        if not console.is_interactive:
            return None
        live.stop()
        try:
            return _ask(console, pending)
        finally:
            live.start()

    with Live(_progress_view(None), console=console, refresh_per_second=8, transient=True) as live:
        try:
            result = await follow(
                handle, on_progress=lambda p: live.update(_progress_view(p)), answer=answer
            )
        except WorkflowFailureError as exc:
            live.stop()
            console.print(Panel(_failure_text(exc), title="run failed", border_style="red"))
            console.print(f"Temporal UI: {url}", soft_wrap=True)
            return 1
        except InputRejected as exc:
            live.stop()
            console.print(f"[red]{exc}[/red]")
            return 1
    _print_result(console, result, url)
    return 0


def _ask(console: Console, pending: PendingInput) -> Any:
    console.print(Panel(pending.prompt.strip(), title=f"input needed · {pending.node}"))
    while True:
        raw = console.input("answer> ").strip()
        if pending.choices is None or raw in pending.choices:
            return raw
        console.print(f"[yellow]choose one of {pending.choices}[/yellow]")


def _failure_text(error: WorkflowFailureError) -> str:
    cause: BaseException | None = error.cause
    lines = []
    while cause is not None:
        lines.append(str(cause))
        cause = cause.__cause__
    return "\n".join(lines) or str(error)


def _print_result(console: Console, result: RunResult, url: str) -> None:
    console.print(
        f"[green]✔[/green] {result.tree} {result.tree_version} · outcome "
        f"[bold]{result.outcome}[/bold] · {result.steps} steps"
    )
    console.print(f"  path: {' → '.join(result.path)}")
    console.print(Panel(json.dumps(result.output, indent=2, ensure_ascii=False), title="output"))
    console.print(f"Temporal UI: {url}", soft_wrap=True)

"""Show a run in the terminal as it happens (one line per event), then its result.

The events come from `temporal_client.run_events.follow_events`, the code path the
API's event stream uses too; input nodes are answered from samples or by asking.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from temporal_client.run_events import follow_events
from treeflow.follow import InputRejected, answers_from, submit_answer
from workflows.run_models import PendingInput, RunResult
from workflows.trail import RunEvent


def event_line(event: RunEvent, started: dict[int, datetime]) -> str | None:
    """How one run event reads in the terminal (None: not shown on its own)."""
    data, node = event.data, escape(event.node or "")
    match event.type:
        case "step.started":
            started[event.id] = event.at
            what = data.get("activity") or data.get("strategy") or ""
            return f"  ▸ [bold]{node}[/bold] {event.kind or ''} {escape(str(what))}".rstrip()
        case "step.completed":
            return f"  [green]✔[/green] {node}{_took(event, started)}"
        case "step.failed":
            then = f" → {escape(data['handled_by'])}" if data.get("handled_by") else ""
            error = escape(str(data.get("error", "")))[:200]
            return f"  [red]✘[/red] {node}{_took(event, started)}: {error}{then}"
        case "decision.taken":
            why = data.get("rule") or data.get("reasoning") or ""
            because = f" [dim]({escape(str(why))[:120]})[/dim]" if why else ""
            return f"    ↳ {escape(str(data.get('branch') or data.get('to') or 'stop'))}{because}"
        case "input.requested":
            return (
                f"  [yellow]?[/yellow] {node}: {escape(str(data.get('prompt', '')).strip())[:100]}"
            )
        case _:
            return None


def _took(event: RunEvent, started: dict[int, datetime]) -> str:
    began = started.pop(event.step, None) if event.step is not None else None
    if began is None:
        return ""
    return f" [dim]{(event.at - began).total_seconds() * 1000:.0f} ms[/dim]"


async def follow_with_progress(
    console: Console,
    client: Client,
    handle: WorkflowHandle[Any, Any],
    answers: dict[str, Any],
    url: str,
) -> int:
    """Print the run's steps as they happen; answer inputs from `answers` or by asking."""
    provide_sample = answers_from(answers)
    started: dict[int, datetime] = {}

    async def answer(pending: PendingInput) -> Any | None:
        value = await provide_sample(pending)
        if value is not None:
            console.print(f"  answering [bold]{pending.node}[/bold] with {value!r} (sample)")
            return value
        if not console.is_interactive:
            console.print(f"  waiting for an answer to [bold]{pending.node}[/bold]")
            return None
        return _ask(console, pending)

    first_run = handle.first_execution_run_id or handle.result_run_id
    try:
        async for item in follow_events(client, handle.id, run_id=first_run):
            if not isinstance(item, RunEvent):
                continue
            line = event_line(item, started)
            if line is not None:
                console.print(line, highlight=False)
            if item.type == "input.requested" and item.node is not None:
                data = item.data
                pending = PendingInput(
                    node=item.node, prompt=str(data.get("prompt", "")), choices=data.get("choices")
                )
                value = await answer(pending)
                if value is not None:
                    await submit_answer(handle, item.node, value)
        result = RunResult.model_validate(await handle.result())
    except WorkflowFailureError as exc:
        console.print(Panel(_failure_text(exc), title="run failed", border_style="red"))
        console.print(f"Temporal UI: {url}", soft_wrap=True)
        return 1
    except InputRejected as exc:
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

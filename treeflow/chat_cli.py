"""`treeflow chat TEMPLATE`: a conversation in the terminal, straight on Temporal.

Each line read from stdin is one message of a `ConversationWorkflow` (the first one
starts it: update-with-start); the answer and the path its run took are printed.
`/exit` or end of input ends the conversation. Like `treeflow run`, it needs a worker
on the task queue (`treeflow up` or `treeflow worker`).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any

from rich.console import Console
from temporalio.client import Client

from temporal_client.connection import TemporalSettings
from temporal_client.conversations import (
    MessageRefused,
    conversation_start,
    send_message,
)
from workflows.compiled import CompiledTree
from workflows.conversation import ConversationWorkflow
from workflows.conversation_models import (
    MAX_USER_MESSAGE_CHARS,
    ConversationStart,
    Message,
    Turn,
    conversation_workflow_id,
)

EXIT_COMMAND = "/exit"


async def chat(
    console: Console,
    settings: TemporalSettings,
    compiled: CompiledTree,
    *,
    tenant: str,
    input_name: str | None,
    inputs: dict[str, Any],
    codec: Any = None,
) -> int:
    """Talk to the tree until `/exit` or end of input; the exit code."""
    conversation_id = f"c-{uuid.uuid4().hex[:16]}"
    start = conversation_start(
        compiled,
        tenant_id=tenant,
        conversation_id=conversation_id,
        inputs=inputs,
        input_name=input_name,
    )
    client = await Client.connect(**settings.connect_kwargs(codec))
    wf_id = conversation_workflow_id(tenant, conversation_id)
    console.print(
        f"conversation [bold]{conversation_id}[/bold] with {compiled.name} {compiled.version}"
        f" · {EXIT_COMMAND} or end of input to leave",
        highlight=False,
    )
    code = await _loop(console, client, wf_id, start, settings.task_queue)
    await _end(client, wf_id)
    console.print(f"  {settings.run_url(wf_id)}", soft_wrap=True, highlight=False)
    return code


async def _loop(
    console: Console, client: Client, wf_id: str, start: ConversationStart, queue: str
) -> int:
    started = False
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return 0
        text = line.strip()
        if text == EXIT_COMMAND:
            return 0
        if not text:
            continue
        if len(text) > MAX_USER_MESSAGE_CHARS:
            console.print(f"[red]a message has at most {MAX_USER_MESSAGE_CHARS} characters[/red]")
            continue
        try:
            turn = await send_message(
                client,
                wf_id,
                Message(text=text),
                start=None if started else start,
                task_queue=queue,
            )
        except MessageRefused as refused:
            console.print(f"[red]{refused}[/red]")
            return 1
        started = True
        _print_turn(console, turn)


def _print_turn(console: Console, turn: Turn) -> None:
    if turn.status == "failed":
        console.print(f"[red]turn {turn.turn} failed: {turn.error}[/red]", highlight=False)
        return
    answer = turn.answer or {}
    text = answer.get("answer", answer.get("text"))
    shown = text if isinstance(text, str) else json.dumps(answer, ensure_ascii=False)
    console.print(f"[bold]{turn.turn}>[/bold] {shown}", highlight=False, soft_wrap=True)
    console.print(
        f"  path: {' → '.join(turn.path)} · run {turn.run} ({turn.outcome})", highlight=False
    )


async def _end(client: Client, wf_id: str) -> None:
    handle = client.get_workflow_handle_for(ConversationWorkflow.run, wf_id)
    try:
        await handle.execute_update(ConversationWorkflow.end)
    except Exception:  # never started (no message was sent) or already ended
        return

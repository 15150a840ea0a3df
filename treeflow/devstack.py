"""`treeflow up`: the embedded stack (Temporal dev server + a worker) and a demo run."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from pathlib import Path

from rich.console import Console
from temporalio.client import Client

from treeflow.console_run import follow_with_progress
from treeflow.data_cli import ensure_demo_data
from treeflow.devserver import DevServer, DevServerError
from treeflow.toolbox import default_registry, resolve_tree
from worker.runner import run_worker
from worker.settings import WorkerSettings
from workflows.interpreter import DecisionTreeWorkflow
from workflows.launch import run_request, start_options, workflow_id
from workflows.temporal_config import TemporalSettings

DEMO_TENANT = "demo"


async def run_stack(
    console: Console,
    *,
    template: str,
    sample: str | None,
    port: int,
    ui_port: int,
    data_dir: Path,
    once: bool,
) -> int:
    """Start everything, run `template`, then stay up until Ctrl-C (unless `once`)."""
    compiled, inputs, answers = resolve_tree(template, sample)
    store = data_dir / "retrieval"
    with console.status("checking the demo data…"):
        if await ensure_demo_data(store):
            console.print(f"loaded the demo support tickets into {store}")
    dev = DevServer(
        port=port,
        ui_port=ui_port,
        db_file=data_dir / "temporal.db",
        log_file=data_dir / "temporal.log",
    )
    with console.status("starting the Temporal dev server…"):
        try:
            dev.start()
        except DevServerError as exc:
            console.print(f"[red]{exc}[/red]")
            return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    settings = TemporalSettings(address=dev.address, ui_url=dev.ui_url or "")
    ready = asyncio.Event()
    worker_settings = WorkerSettings(graceful_shutdown_seconds=5)
    defaults = worker_settings.tool_config.setdefault("defaults", {})
    defaults.setdefault("retrieval", {"kind": "embedded", "path": str(store)})
    worker_task = asyncio.create_task(
        run_worker(
            worker_settings,
            settings,
            registry=default_registry(),
            stop=stop,
            ready=ready,
            handle_signals=False,
        )
    )
    try:
        with console.status("starting a worker…"):
            await _first_of(ready.wait(), worker_task)
        console.print(
            f"Temporal dev server on {dev.address} · Web UI {dev.ui_url} · "
            f"worker on task queue '{settings.task_queue}'"
        )
        client = await Client.connect(**settings.connect_kwargs())
        handle = await client.start_workflow(
            DecisionTreeWorkflow.run,
            run_request(compiled, inputs, DEMO_TENANT),
            **start_options(
                compiled,
                tenant_id=DEMO_TENANT,
                workflow_id=workflow_id(DEMO_TENANT, f"{template}-{uuid.uuid4().hex[:8]}"),
                task_queue=settings.task_queue,
            ),
        )
        url = settings.run_url(handle.id, handle.result_run_id)
        console.print(f"running template [bold]{template}[/bold] as {handle.id}")
        code = await follow_with_progress(console, handle, answers, url)
        if not once and not stop.is_set():
            console.print(
                f"\nThe stack stays up: open {dev.ui_url} to inspect the run. "
                "Press Ctrl-C to stop everything."
            )
            await stop.wait()
        return code
    finally:
        stop.set()
        with console.status("stopping…"):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker_task, timeout=15)
            dev.stop()
        console.print("stopped.")


async def _first_of(waiter: object, worker_task: asyncio.Task[None]) -> None:
    """Wait for readiness, but surface a worker that dies while starting."""
    ready_task = asyncio.ensure_future(waiter)  # type: ignore[call-overload]
    done, _ = await asyncio.wait({ready_task, worker_task}, return_when=asyncio.FIRST_COMPLETED)
    if worker_task in done:
        ready_task.cancel()
        worker_task.result()  # raises the worker's error
        raise RuntimeError("worker stopped before it was ready")

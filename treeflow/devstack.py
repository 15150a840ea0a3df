"""`treeflow up`: the embedded stack (Temporal dev server, a worker, the API) and a demo run."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console
from temporalio.client import Client
from temporalio.converter import PayloadCodec

from activities.sdk import SecretResolver
from activities.secrets.resolver import store_resolver
from api.admin import ensure_dev_tenant
from api.app import create_app
from api.serving import server_config
from api.settings import Settings
from foundation.secrets.payload_codec import payload_encryption_enabled
from foundation.secrets.settings import SecretsSettings
from temporal_client.connection import TemporalSettings
from temporal_client.run_start import run_request, start_options, workflow_id
from treeflow.console_run import follow_with_progress
from treeflow.data_cli import ensure_demo_data
from treeflow.devserver import DevServer, DevServerError
from treeflow.toolbox import default_registry, resolve_tree
from worker.runner import run_worker
from worker.settings import WorkerSettings
from workflows.compiled import CompiledTree
from workflows.workflow import DecisionTreeWorkflow

KEY_FILE = "dev-api-key"


def api_settings(data_dir: Path, api_port: int, temporal: TemporalSettings) -> Settings:
    """The embedded API: explicit dev mode, SQLite next to the Temporal database."""
    return Settings(
        dev_mode=True,
        database_url=f"sqlite+aiosqlite:///{(data_dir / 'treeflow.db').resolve()}",
        public_url=f"http://127.0.0.1:{api_port}",
        temporal=temporal,
    )


async def _dev_access(settings: Settings, data_dir: Path) -> tuple[uuid.UUID, Path]:
    """The demo tenant, and a file holding an admin API key for it (made once)."""
    key_file = data_dir / KEY_FILE
    needs_key = not await asyncio.to_thread(key_file.exists)
    access = await ensure_dev_tenant(settings, with_key=needs_key)
    if access.api_key is not None:
        await asyncio.to_thread(_save_key, key_file, access.api_key)
    return access.tenant_id, key_file


def _save_key(key_file: Path, key: str) -> None:
    key_file.touch(mode=0o600)
    key_file.write_text(key + "\n")


async def _start_api(settings: Settings, port: int, running: contextlib.AsyncExitStack) -> None:
    server = uvicorn.Server(
        server_config(
            create_app(settings), settings, host="127.0.0.1", port=port, log_level="warning"
        )
    )
    task = asyncio.create_task(server.serve())

    async def stop_api() -> None:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=10)

    running.push_async_callback(stop_api)
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"the API did not start on port {port}")
        await asyncio.sleep(0.02)


async def run_stack(
    console: Console,
    *,
    template: str,
    sample: str | None,
    port: int,
    ui_port: int,
    api_port: int,
    data_dir: Path,
    once: bool,
) -> int:
    """Start everything, run `template`, then stay up until Ctrl-C (unless `once`).

    Every component registers its shutdown as soon as it has started, so a failure
    at any step stops what already runs (no stray Temporal server is left behind).
    """
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
    settings = TemporalSettings(address=dev.address, ui_url=dev.ui_url or "")
    platform = api_settings(data_dir, api_port, settings)
    tenant_id, key_file = await _dev_access(platform, data_dir)
    if payload_encryption_enabled(platform.payload_encryption, dev_mode=True):
        # The Web UI asks the API to decode the demo tenant's payloads (it must pass a
        # Treeflow credential; without one it shows them encrypted).
        dev.ui_codec_endpoint = f"{platform.public_url}/v1/tenants/{tenant_id}/codec"
    with console.status("starting the Temporal dev server…"):
        try:
            dev.start()
        except DevServerError as exc:
            console.print(f"[red]{exc}[/red]")
            return 1
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        async with contextlib.AsyncExitStack() as running:
            running.callback(dev.stop)
            resolver = await _secret_resolver(platform, running)
            with console.status("starting a worker and the API…"):
                await _start_worker(
                    settings, store, resolver, stop, running, _secrets_settings(platform)
                )
                await _start_api(platform, api_port, running)
            console.print(
                f"Temporal dev server on {dev.address} · Web UI {dev.ui_url} · "
                f"worker on task queue '{settings.task_queue}'"
            )
            console.print(
                f"API {platform.public_url}/docs · demo tenant {tenant_id} · "
                f"admin API key in {key_file}"
            )
            sign_in = studio_sign_in_url(platform.public_url, key_file)
            console.print(f"Studio (one-click dev sign-in) {sign_in}")
            code = await _demo_run(
                console,
                settings,
                compiled,
                inputs,
                answers,
                tenant_id,
                template,
                _secrets_settings(platform).payload_codec(),
            )
            if not once and not stop.is_set():
                console.print(
                    f"\nThe stack stays up: open {dev.ui_url} to inspect the run. "
                    "Press Ctrl-C to stop everything."
                )
                await stop.wait()
            console.print("stopping…")
            return code
    finally:
        console.print("stopped.")


def _secrets_settings(platform: Settings) -> SecretsSettings:
    """The worker's view of the platform: dev mode, so payload encryption is opt-in
    (`TREEFLOW_PAYLOAD_ENCRYPTION=true`), with the API's keys."""
    return SecretsSettings(dev_mode=True, database_url=platform.database_url)


async def _secret_resolver(
    platform: Settings, running: contextlib.AsyncExitStack
) -> SecretResolver:
    built = _secrets_settings(platform).build_store()
    assert built is not None  # a database URL is set
    store, engine = built
    if engine is not None:
        running.push_async_callback(engine.dispose)
    return store_resolver(store)


async def _start_worker(
    settings: TemporalSettings,
    store: Path,
    secrets: SecretResolver,
    stop: asyncio.Event,
    running: contextlib.AsyncExitStack,
    secrets_settings: SecretsSettings,
) -> None:
    worker_settings = WorkerSettings(graceful_shutdown_seconds=5)
    defaults = worker_settings.tool_config.setdefault("defaults", {})
    defaults.setdefault("retrieval", {"kind": "embedded", "path": str(store)})
    ready = asyncio.Event()
    task = asyncio.create_task(
        run_worker(
            worker_settings,
            settings,
            registry=default_registry(),
            secrets=secrets,
            stop=stop,
            ready=ready,
            handle_signals=False,
            secrets_settings=secrets_settings,
        )
    )

    async def stop_worker() -> None:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=15)

    running.push_async_callback(stop_worker)
    await _first_of(ready.wait(), task)


async def _demo_run(
    console: Console,
    settings: TemporalSettings,
    compiled: CompiledTree,
    inputs: dict[str, Any],
    answers: dict[str, Any],
    tenant_id: uuid.UUID,
    template: str,
    codec: PayloadCodec | None,
) -> int:
    client = await Client.connect(**settings.connect_kwargs(codec))
    tenant = str(tenant_id)
    handle = await client.start_workflow(
        DecisionTreeWorkflow.run,
        run_request(compiled, inputs, tenant),
        **start_options(
            compiled,
            tenant_id=tenant,
            workflow_id=workflow_id(tenant, f"{template}-{uuid.uuid4().hex[:8]}"),
            task_queue=settings.task_queue,
        ),
    )
    url = settings.run_url(handle.id, handle.result_run_id)
    console.print(f"running template [bold]{template}[/bold] as {handle.id}")
    return await follow_with_progress(console, client, handle, answers, url)


async def _first_of(waiter: object, worker_task: asyncio.Task[None]) -> None:
    """Wait for readiness, but surface a worker that dies while starting."""
    ready_task = asyncio.ensure_future(waiter)  # type: ignore[call-overload]
    done, _ = await asyncio.wait({ready_task, worker_task}, return_when=asyncio.FIRST_COMPLETED)
    if worker_task in done:
        ready_task.cancel()
        worker_task.result()  # raises the worker's error
        raise RuntimeError("worker stopped before it was ready")


def studio_sign_in_url(public_url: str, key_file: Path) -> str:
    """The Studio's URL that signs in with the dev admin key.

    The key rides in the fragment (`#key=`), which browsers never send to a server, so it
    appears in no request log; the Studio drops it from the address bar once read.
    """
    return f"{public_url}/studio/#key={key_file.read_text(encoding='utf-8').strip()}"

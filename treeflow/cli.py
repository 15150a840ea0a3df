"""The `treeflow` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from treeflow import exit as process_exit
from treeflow.admin_cli import admin_app, serve_api
from treeflow.data_cli import data_app
from treeflow.errors import report

if TYPE_CHECKING:
    from temporalio.client import WorkflowExecutionStatus

app = typer.Typer(
    name="treeflow",
    help="Decision trees compiled into durable Temporal workflows with versioned tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data_app, name="data")
app.add_typer(admin_app, name="admin")
app.command("api")(serve_api)
console = Console()
err_console = Console(stderr=True)

DATA_DIR = Path(".treeflow")


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _parse_inputs(pairs: list[str], inputs_file: Path | None) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    if inputs_file is not None:
        loaded = json.loads(inputs_file.read_text())
        if not isinstance(loaded, dict):
            raise typer.BadParameter("the inputs file must hold a JSON object")
        inputs.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"--input expects key=value, got '{pair}'")
        try:
            inputs[key] = json.loads(raw)
        except json.JSONDecodeError:
            inputs[key] = raw
    return inputs


@app.command()
def compile(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Tree YAML or JSON.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the compiled tree.")] = False,
) -> None:
    """Validate a tree and pin its tools; print every problem with its node path."""
    from treeflow.toolbox import compile_text, print_compile_error, read_source
    from workflows.compiler import CompileError

    try:
        compiled = compile_text(read_source(file))
    except CompileError as exc:
        print_compile_error(err_console, str(file), exc)
        raise typer.Exit(1) from None
    if as_json:
        console.print_json(compiled.model_dump_json())
        return
    console.print(f"[green]ok[/green] {compiled.name} {compiled.version}  hash {compiled.hash}")
    for node_id, pin in compiled.pins().items():
        console.print(f"  {node_id}: {pin}")
    for warning in compiled.warnings:
        console.print(f"  [yellow]warning[/yellow] {warning}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the tree format."""
    from workflows.spec import json_schema

    print(json.dumps(json_schema(), indent=2))


@app.command()
def tools() -> None:
    """List every registered tool version."""
    from treeflow.toolbox import default_registry

    table = Table("tool", "kind", "description")
    for definition in default_registry():
        spec = definition.spec
        note = f" [yellow](deprecated: {spec.deprecated})[/yellow]" if spec.deprecated else ""
        table.add_row(spec.activity_name, spec.kind, spec.description.split("\n")[0] + note)
    console.print(table)


@app.command("templates")
def list_templates() -> None:
    """List the built-in templates and their samples."""
    import templates as catalog

    table = Table("template", "samples", "description")
    for template in catalog.all_templates():
        table.add_row(
            template.name, ", ".join(s.name for s in template.samples), template.description
        )
    console.print(table)


@app.command()
def worker(
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a worker (settings from TREEFLOW_TEMPORAL_* and TREEFLOW_WORKER_*)."""
    from foundation.telemetry.logs import configure_logging
    from foundation.telemetry.settings import TelemetrySettings
    from worker.runner import run_worker

    settings = TelemetrySettings()
    if verbose:
        settings = settings.model_copy(update={"log_level": "DEBUG"})
    configure_logging(settings)
    _refuse_dev_defaults_in_worker()
    asyncio.run(run_worker())


def _refuse_dev_defaults_in_worker() -> None:
    """Exit 1 with the findings when production mode meets dev defaults (treeflow.production)."""
    from foundation.flags.settings import FlagSettings
    from foundation.secrets.settings import SecretsSettings
    from temporal_client.connection import TemporalSettings
    from treeflow.production import DevDefaultsError, enforce, worker_findings

    try:
        enforce("worker", worker_findings(SecretsSettings(), TemporalSettings(), FlagSettings()))
    except DevDefaultsError as exc:
        err_console.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None


@app.command()
def server(
    port: Annotated[int, typer.Option(help="gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Web UI port.")] = 8233,
    data_dir: Annotated[Path, typer.Option(help="Where the SQLite file lives.")] = DATA_DIR,
) -> None:
    """Run only the embedded Temporal dev server until Ctrl-C."""
    from treeflow.devserver import DevServer

    dev = DevServer(
        port=port,
        ui_port=ui_port,
        db_file=data_dir / "temporal.db",
        log_file=data_dir / "temporal.log",
    )
    with dev.running():
        console.print(f"Temporal on {dev.address}, Web UI {dev.ui_url} · Ctrl-C to stop")
        _wait_for_stop_signal()


def _wait_for_stop_signal() -> None:
    received: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda s, _f: received.append(s))
    while not received:
        signal.pause()


@app.command()
def run(
    tree: Annotated[str, typer.Argument(help="A template name or a tree file.")],
    input: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="key=value (JSON values ok).")
    ] = None,
    inputs_file: Annotated[Path | None, typer.Option(help="JSON object of inputs.")] = None,
    sample: Annotated[str | None, typer.Option(help="Use a template sample's inputs.")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant id recorded on the run.")] = "default",
    run_id: Annotated[str | None, typer.Option("--id", help="Idempotency key.")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the run until it ends.")] = True,
) -> None:
    """Start a run on a running Temporal (TREEFLOW_TEMPORAL_ADDRESS) and follow it."""
    from temporal_client.connection import TemporalSettings
    from treeflow.toolbox import print_compile_error, resolve_tree
    from workflows.compiler import CompileError

    try:
        compiled, sample_inputs, answers = resolve_tree(tree, sample)
    except CompileError as exc:
        print_compile_error(err_console, tree, exc)
        raise typer.Exit(1) from None
    inputs = sample_inputs | _parse_inputs(input or [], inputs_file)
    settings = TemporalSettings()
    code = asyncio.run(
        _start_and_follow(
            settings, compiled, inputs, tenant, run_id or uuid.uuid4().hex[:12], answers, wait
        )
    )
    raise typer.Exit(code)


async def _start_and_follow(
    settings: Any,
    compiled: Any,
    inputs: dict[str, Any],
    tenant: str,
    key: str,
    answers: dict[str, Any],
    wait: bool,
) -> int:
    from temporalio.client import Client, WorkflowExecutionStatus

    from temporal_client.run_start import InvalidInputs, run_request, start_options, workflow_id
    from treeflow.console_run import follow_with_progress

    try:
        request = run_request(compiled, inputs, tenant)
    except InvalidInputs as exc:
        for problem in exc.problems:
            err_console.print(f"[red]{problem}[/red]")
        return 2
    from foundation.secrets.settings import SecretsSettings

    secrets = SecretsSettings()
    # With keys (or encryption asked for) the CLI encodes like the fleet; without keys it
    # is a plain client of a dev server (encrypting workers still decode plaintext).
    encrypting = bool(secrets.secret_keys) or secrets.payload_encryption is True
    codec = secrets.payload_codec() if encrypting else None
    client = await Client.connect(**settings.connect_kwargs(codec))
    handle, existing = await _start_or_attach(
        client,
        request,
        **start_options(
            compiled,
            tenant_id=tenant,
            workflow_id=workflow_id(tenant, key),
            task_queue=settings.task_queue,
        ),
    )
    url = settings.run_url(handle.id, handle.result_run_id)
    if existing is None:
        console.print(f"started [bold]{handle.id}[/bold]")
    elif existing == WorkflowExecutionStatus.RUNNING:
        console.print(
            f"attached to the open run [bold]{handle.id}[/bold] (--id {key} is taken; "
            "nothing new started, following it)"
        )
    else:
        console.print(
            f"run [bold]{handle.id}[/bold] already ended ({existing.name.lower()}); "
            "nothing new started, showing it"
        )
    console.print(f"  {url}", soft_wrap=True)
    if not wait:
        return 0
    return await follow_with_progress(console, client, handle, answers, url)


async def _start_or_attach(
    client: Any, request: Any, **options: Any
) -> tuple[Any, WorkflowExecutionStatus | None]:
    """Start the run, or find the run already holding this id (open or closed).

    Returns the handle and, when nothing was started, the existing run's status. An
    open run with the id is returned by the start itself (USE_EXISTING), so it is
    looked up first; a closed one makes the start fail (ids are never reused).
    """
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.exceptions import WorkflowAlreadyStartedError
    from temporalio.service import RPCError, RPCStatusCode

    from workflows.workflow import DecisionTreeWorkflow

    async def status_of(workflow_id: str) -> tuple[Any, WorkflowExecutionStatus | None]:
        handle = client.get_workflow_handle_for(DecisionTreeWorkflow.run, workflow_id)
        try:
            description = await handle.describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return handle, None
            raise
        return handle, description.status or WorkflowExecutionStatus.RUNNING

    handle, status = await status_of(options["id"])
    if status is not None:
        return handle, status
    try:
        return await client.start_workflow(DecisionTreeWorkflow.run, request, **options), None
    except WorkflowAlreadyStartedError:
        handle, status = await status_of(options["id"])  # started by someone meanwhile
        return handle, status or WorkflowExecutionStatus.RUNNING


@app.command()
def chat(
    tree: Annotated[str, typer.Argument(help="A template name or a tree file.")],
    message_input: Annotated[
        str | None, typer.Option("--message-input", help="The input each message fills.")
    ] = None,
    input: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="Other inputs, key=value.")
    ] = None,
    tenant: Annotated[str, typer.Option(help="Tenant id recorded on the runs.")] = "default",
) -> None:
    """Chat with a tree: each stdin line is a message, answered by a run that sees the
    earlier turns; `/exit` or end of input ends the conversation."""
    from foundation.secrets.settings import SecretsSettings
    from temporal_client.connection import TemporalSettings
    from temporal_client.run_start import InvalidInputs
    from treeflow.chat_cli import chat as run_chat
    from treeflow.toolbox import print_compile_error, resolve_tree
    from workflows.compiler import CompileError

    try:
        compiled, _, _ = resolve_tree(tree, None)
    except CompileError as exc:
        print_compile_error(err_console, tree, exc)
        raise typer.Exit(1) from None
    secrets = SecretsSettings()
    encrypting = bool(secrets.secret_keys) or secrets.payload_encryption is True
    try:
        code = asyncio.run(
            run_chat(
                console,
                TemporalSettings(),
                compiled,
                tenant=tenant,
                input_name=message_input,
                inputs=_parse_inputs(input or [], None),
                codec=secrets.payload_codec() if encrypting else None,
            )
        )
    except InvalidInputs as exc:
        for problem in exc.problems:
            err_console.print(f"[red]{problem}[/red]")
        code = 1
    raise typer.Exit(code)


@app.command("temporal-setup")
def temporal_setup() -> None:
    """Register Treeflow's search attributes on a self-hosted Temporal namespace.

    Temporal Cloud namespaces are configured with `tcld` instead; the dev server
    started by `treeflow up` already has them.
    """
    from temporal_client.connection import TemporalSettings

    settings = TemporalSettings()
    added = asyncio.run(_register_search_attributes(settings))
    console.print(f"namespace '{settings.namespace}': " + (", ".join(added) or "all present"))


async def _register_search_attributes(settings: Any) -> list[str]:
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )
    from temporalio.client import Client

    from workflows.search_attributes import ALL_KEYS

    client = await Client.connect(**settings.connect_kwargs())
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=settings.namespace)
    )
    missing = [key.name for key in ALL_KEYS if key.name not in existing.custom_attributes]
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=settings.namespace,
                search_attributes={
                    name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in missing
                },
            )
        )
    return missing


@app.command()
def up(
    once: Annotated[bool, typer.Option("--once", help="Exit after the run (for scripts).")] = False,
    template: Annotated[str, typer.Option(help="Template to run.")] = "ticket-qa",
    sample: Annotated[str | None, typer.Option(help="Sample of the template.")] = None,
    port: Annotated[int, typer.Option(help="Temporal gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = 8233,
    api_port: Annotated[int, typer.Option(help="Treeflow API port.")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="Local state (SQLite).")] = DATA_DIR,
) -> None:
    """Start the embedded stack (Temporal, a worker, the API), run a template, keep it up."""
    from treeflow.devstack import run_stack

    data_dir.mkdir(parents=True, exist_ok=True)
    code = asyncio.run(
        run_stack(
            console,
            template=template,
            sample=sample,
            port=port,
            ui_port=ui_port,
            api_port=api_port,
            data_dir=data_dir,
            once=once,
        )
    )
    raise typer.Exit(code)


def main() -> None:
    """Console entry point: run the command, then end the process deterministically.

    The Temporal SDK's runtime threads can abort the interpreter at exit
    (sdk-python issue #300); flushing and leaving through `os._exit` avoids it.
    """
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    except Exception as error:
        code = report(error, err_console)
    process_exit.exit_now(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())  # type: ignore[func-returns-value]

"""`treeflow data`: load files and the demo data into a retrieval store, list collections."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from activities.backends import Backend, BackendError, EmbeddedConfig, WeaviateConfig, open_backend
from activities.backends.factory import DEFAULT_EMBEDDED_PATH
from activities.backends.loader import IndexChoice, LoadReport, load_demo, load_file
from activities.backends.weaviate_settings import WeaviateSettings

data_app = typer.Typer(help="Load data into a retrieval store and list what it holds.")
console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")

PathOption = Annotated[Path, typer.Option("--path", help="Embedded store directory.")]
BackendOption = Annotated[
    str,
    typer.Option(
        "--backend",
        help="embedded (local LanceDB) or weaviate (TREEFLOW_WEAVIATE_* settings).",
    ),
]


async def env_secret(ref: str) -> str:
    """The CLI resolves `env:NAME` secret references from its environment."""
    if not ref.startswith("env:"):
        raise BackendError(f"the CLI resolves only 'env:NAME' secret references, not {ref!r}")
    name = ref.removeprefix("env:")
    if name not in os.environ:
        raise BackendError(f"secret reference {ref!r}: environment variable {name} is not set")
    return os.environ[name]


def backend_for(kind: str, path: Path) -> Backend:
    """A backend for the CLI: the embedded store at `path`, or Weaviate from the environment."""
    if kind == "embedded":
        return open_backend(EmbeddedConfig(path=path))
    if kind == "weaviate":
        return open_backend(WeaviateConfig(settings=WeaviateSettings()), resolve_secret=env_secret)
    raise typer.BadParameter(
        f"unknown backend {kind!r}: use embedded or weaviate", param_hint="--backend"
    )


def _run(kind: str, path: Path, work: Callable[[Backend], Awaitable[T]]) -> T:
    """Run `work` on a fresh store (closed after), a `BackendError` ending the command (1)."""

    async def closing(store: Backend) -> T:
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(closing(backend_for(kind, path)))
    except BackendError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


def _report(report: LoadReport, where: str) -> None:
    verb = "created" if report.created else "updated"
    console.print(
        f"[green]{verb}[/green] {report.collection} in {where}: {report.records} records "
        f"in {report.batches} batch(es), {report.seconds:.1f}s; "
        f"{report.schema.count} objects now"
    )
    if report.indexed:
        console.print(f"indexed {', '.join(report.indexed)} in {report.index_seconds:.1f}s")
    table = Table("property", "type", "vectorized")
    for prop in report.schema.properties:
        table.add_row(
            prop.name, str(prop.type), "yes" if prop.name in report.schema.vectorized else ""
        )
    console.print(table)


async def _load(
    backend: Backend,
    file: Path,
    collection: str,
    id_field: str | None,
    replace: bool,
    tenant: str | None,
    indexes: IndexChoice,
) -> LoadReport:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"loading {file.name}", total=None)

        def on_batch(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return await load_file(
            backend,
            file,
            collection,
            id_field=id_field,
            replace=replace,
            tenant=tenant,
            on_batch=on_batch,
            indexes=indexes,
        )


@data_app.command("load")
def load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON, JSONL or CSV.")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Target collection.")],
    backend: BackendOption = "embedded",
    path: PathOption = DEFAULT_EMBEDDED_PATH,
    id_field: Annotated[
        str | None, typer.Option(help="Column with each record's key (default: 'id' if present).")
    ] = None,
    replace: Annotated[bool, typer.Option(help="Drop the collection first.")] = False,
    tenant: Annotated[str | None, typer.Option(help="Tenant of a multi-tenant collection.")] = None,
    indexes: Annotated[
        IndexChoice,
        typer.Option(
            help="Embedded store indexes to build after loading: auto (id and full-text; "
            "vector from 50,000 rows), all (vector too) or none.",
        ),
    ] = "auto",
) -> None:
    """Import a file into a collection (created when missing; re-imports update), then
    build the store's indexes."""
    report = _run(
        backend,
        path,
        lambda store: _load(store, file, collection, id_field, replace, tenant, indexes),
    )
    _report(report, str(path) if backend == "embedded" else "Weaviate")


@data_app.command("demo")
def demo(
    backend: BackendOption = "embedded",
    path: PathOption = DEFAULT_EMBEDDED_PATH,
    replace: Annotated[bool, typer.Option(help="Reload even if present.")] = False,
) -> None:
    """Load the shipped demo tickets (collection SupportTickets)."""
    report = _run(backend, path, lambda store: load_demo(store, replace=replace))
    _report(report, str(path) if backend == "embedded" else "Weaviate")


async def _list(store: Backend) -> list[tuple[str, int | None]]:
    found = []
    for name in await store.list_collections():
        try:
            found.append((name, (await store.describe(name)).count))
        except BackendError:
            found.append((name, None))
    return found


@data_app.command("list")
def list_collections(
    backend: BackendOption = "embedded",
    path: PathOption = DEFAULT_EMBEDDED_PATH,
) -> None:
    """List the collections of a store and their sizes."""
    found = _run(backend, path, _list)
    table = Table("collection", "objects")
    for name, count in found:
        table.add_row(name, "?" if count is None else str(count))
    console.print(table)


async def ensure_demo_data(path: Path) -> bool:
    """Load the demo tickets into the embedded store at `path` unless present; True if loaded."""
    store = open_backend(EmbeddedConfig(path=path))
    try:
        if "SupportTickets" in await store.list_collections():
            return False
        await load_demo(store)
        return True
    finally:
        await store.close()

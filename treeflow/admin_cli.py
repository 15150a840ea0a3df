"""`treeflow api` and `treeflow admin`: serve the API, bootstrap an operator, rotate keys."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from api.settings import Settings

admin_app = typer.Typer(help="Operator tasks: migrations, the first operator, secret key rotation.")
console = Console()
err_console = Console(stderr=True)


def serve_api(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Serve the HTTP API (settings from TREEFLOW_*; see docs/api.md).

    Logs go through structlog (docs/observability.md): pretty in dev mode, JSON
    otherwise; uvicorn's own lines and the per-request access line included.
    """
    import os

    import uvicorn

    from api.app import create_app
    from api.serving import server_config
    from api.settings import Settings
    from foundation.telemetry.logs import configure_logging

    settings = Settings()
    telemetry = settings.telemetry
    if settings.dev_mode and "TREEFLOW_ENVIRONMENT" not in os.environ:
        telemetry = telemetry.model_copy(update={"environment": "dev"})
    configure_logging(telemetry)
    refuse_dev_defaults("API", settings)
    app = create_app(settings)
    config = server_config(
        app, settings, host=host, port=port, proxy_headers=False, log_config=None, access_log=False
    )
    asyncio.run(uvicorn.Server(config).serve())


def refuse_dev_defaults(process: str, settings: Settings) -> None:
    """Exit 1 with the findings when production mode meets dev defaults (treeflow.production)."""
    from treeflow.production import DevDefaultsError, api_findings, enforce

    try:
        enforce(process, api_findings(settings))
    except DevDefaultsError as exc:
        err_console.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None


def _move_schema(revision: str, *, down: bool) -> None:
    """Upgrade (or downgrade) the platform database to ``revision``."""
    from api.db.engine import make_engine
    from api.db.migrate import downgrade, upgrade
    from api.settings import Settings

    settings = Settings()
    refuse_dev_defaults("migrations", settings)

    async def run() -> None:
        engine = make_engine(settings.database_url)
        try:
            await (downgrade if down else upgrade)(engine, revision)
        finally:
            await engine.dispose()

    asyncio.run(run())
    console.print(f"database schema at {revision}")


@admin_app.command("migrate")
def migrate(
    revision: Annotated[str, typer.Option(help="Alembic revision to upgrade to.")] = "head",
) -> None:
    """Upgrade the database schema (the one-shot migration job; the API then skips it)."""
    _move_schema(revision, down=False)


@admin_app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="Alembic revision to go back to.")],
) -> None:
    """Downgrade the schema to REVISION (rollback: run with the NEW image, see docs/rollback.md)."""
    _move_schema(revision, down=True)


@admin_app.command("bootstrap")
def bootstrap(
    email: Annotated[str, typer.Option(help="The operator's (verified) login email.")],
) -> None:
    """Create the first platform operator and print its API key once."""
    from api.admin import OperatorExistsError, bootstrap_operator
    from api.settings import Settings

    try:
        result = asyncio.run(bootstrap_operator(Settings(), email=email))
    except OperatorExistsError:
        err_console.print("[red]a platform operator already exists; bootstrap runs once[/red]")
        raise typer.Exit(1) from None
    console.print(f"operator {result.user_id} created. API key (shown once, store it now):")
    print(result.api_key)


@admin_app.command("rotate-secret-keys")
def rotate_secret_keys() -> None:
    """Re-encrypt every tenant secret under TREEFLOW_SECRET_ACTIVE_KEY_ID."""
    from api.admin import rotate_secret_keys as rotate
    from api.settings import Settings

    changed = asyncio.run(rotate(Settings()))
    console.print(f"re-encrypted {changed} secret(s) under the active key")

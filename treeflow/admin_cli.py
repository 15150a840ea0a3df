"""`treeflow api` and `treeflow admin`: serve the API, bootstrap an operator, rotate keys."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

admin_app = typer.Typer(help="Operator tasks: the first operator, secret key rotation.")
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
    app = create_app(settings)
    config = server_config(
        app, settings, host=host, port=port, proxy_headers=False, log_config=None, access_log=False
    )
    asyncio.run(uvicorn.Server(config).serve())


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
